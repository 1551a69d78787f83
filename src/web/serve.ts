/**
 * `edm web`: the built browser page (web/dist, `npm run build:web`) served over HTTP on this
 * machine, with the headers that make the page cross-origin isolated (COOP same-origin, COEP
 * require-corp), which multi-threaded WebAssembly needs (SharedArrayBuffer). Without them (a
 * plain static host) the page works on one WebAssembly thread. Static files come from sirv.
 */
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join } from 'node:path';
import sirv from 'sirv';
import { InputError } from '../errors.js';

/** A running server. */
export interface WebServer {
  /** e.g. http://localhost:8080/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The headers of cross-origin isolation (multi-threaded WebAssembly). */
export const ISOLATION_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Serve a built page folder on localhost.
 * @param port TCP port (0: any free one)
 * @param host interface to listen on (default localhost only)
 * @throws InputError when the folder has no index.html (not built), or the port is taken
 */
export async function serveWebPage(dir: string, port: number, host = '127.0.0.1'): Promise<WebServer> {
  if (!existsSync(join(dir, 'index.html'))) throw new InputError('no built page here (index.html missing): run npm run build:web first', dir);
  const files = sirv(dir, {
    dev: false,
    etag: true,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    },
  });
  const server: Server = createServer((req, res) =>
    files(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new InputError(`port ${port} is taken: give another with --port`, dir) : e));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://localhost:${actual}/`,
    port: actual,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
