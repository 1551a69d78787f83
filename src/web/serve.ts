/**
 * `edm web`: the built browser page (web/dist, `npm run build:web`) served over HTTP on this
 * machine, with the headers that make the page cross-origin isolated (COOP same-origin, COEP
 * require-corp), which multi-threaded WebAssembly needs (SharedArrayBuffer). Without them (a
 * plain static host) the page works on one WebAssembly thread. Static files come from sirv.
 */
import { existsSync, realpathSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { join, resolve, sep } from 'node:path';
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

/** Whether a request's Host header names this server: localhost, 127.0.0.1 or [::1] with its port. */
export function ownHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  return ['localhost', '127.0.0.1', '[::1]'].some((name) => host.toLowerCase() === `${name}:${port}`);
}

/**
 * Whether a request path names a file inside `root` once symlinks are resolved (a link that
 * leaves the folder, dangles or loops is not served).
 * @param root the served folder, itself resolved
 */
function insideRoot(root: string, url: string): boolean {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return false;
  }
  if (path.includes('\0')) return false;
  const target = resolve(root, `.${path}`);
  if (target !== root && !target.startsWith(root + sep)) return false;
  if (!existsSync(target)) return true; // sirv answers 404 (or adds .html)
  try {
    const real = realpathSync(target);
    return real === root || real.startsWith(root + sep);
  } catch {
    return false;
  }
}

/**
 * Drop a Range header that is not one satisfiable-looking byte range (`bytes=5-2` crashed sirv's
 * file stream): the whole file is then sent, as HTTP allows for a range it ignores.
 */
function sanitizeRange(req: IncomingMessage): void {
  const r = req.headers.range;
  if (r === undefined) return;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(r.trim());
  const ok = m !== null && (m[1] !== '' || m[2] !== '') && (m[1] === '' || m[2] === '' || Number(m[1]) <= Number(m[2]));
  if (!ok) delete req.headers.range;
}

/**
 * Serve a built page folder on localhost.
 * @param port TCP port (0: any free one)
 * @param host interface to listen on (default localhost only)
 * Only requests whose Host is this server's own are answered; symlinks that leave the folder are
 * not followed; a malformed Range is ignored; no request can stop the server.
 * @throws InputError when the folder has no index.html (not built), or the port is taken
 */
export async function serveWebPage(dir: string, port: number, host = '127.0.0.1'): Promise<WebServer> {
  if (!existsSync(join(dir, 'index.html'))) throw new InputError('no built page here (index.html missing): run npm run build:web first', dir);
  const root = realpathSync(dir);
  // dev mode looks files up per request: the production mode's start-up scan follows every
  // symlink, and a loop or a dangling link in the folder crashed it
  const files = sirv(root, {
    dev: true,
    etag: true,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    },
  });
  let actualPort = port;
  const server: Server = createServer((req, res) => {
    const refuse = (code: number, text: string): void => {
      res.statusCode = code;
      res.end(text);
    };
    try {
      // DNS rebinding: a page of another site whose name resolves here must not read this one
      if (!ownHost(req.headers.host, actualPort)) return refuse(421, 'this server answers only to localhost');
      if (!insideRoot(root, req.url ?? '/')) return refuse(404, 'not found');
      sanitizeRange(req);
      files(req, res, () => refuse(404, 'not found'));
    } catch {
      if (!res.headersSent) refuse(400, 'bad request');
      else res.destroy();
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new InputError(`port ${port} is taken: give another with --port`, dir) : e));
    server.listen(port, host, resolve);
  });
  const address = server.address();
  actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://localhost:${actualPort}/`,
    port: actualPort,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
