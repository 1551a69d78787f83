/**
 * `edm web`'s server against hostile requests and folders (issue 41): it answers only its own
 * Host, serves nothing through a symlink that leaves its folder, starts whatever links the folder
 * holds, and no request (Range or any header) can stop it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WebServer, ownHost, serveWebPage } from '../src/web/serve.js';

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('edm web server', () => {
  let server: WebServer;
  let host: Record<string, string>;
  beforeAll(async () => {
    const outside = mkdtempSync(join(tmpdir(), 'edm-web-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    const dir = mkdtempSync(join(tmpdir(), 'edm-web-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>edm</title>0123456789');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'a.txt'), 'inside');
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'leak.txt'));
    symlinkSync(outside, join(dir, 'leakdir'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.txt'));
    symlinkSync(join(dir, 'loop2'), join(dir, 'loop1'));
    symlinkSync(join(dir, 'loop1'), join(dir, 'loop2'));
    symlinkSync(join(dir, 'sub', 'a.txt'), join(dir, 'inner-link.txt'));
    // it starts on a folder with dangling links and loops (it crashed at start-up)
    server = await serveWebPage(dir, 0);
    host = { Host: `localhost:${server.port}` };
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves its files to its own Host only (DNS rebinding)', async () => {
    expect((await get(server.port, '/', host)).status).toBe(200);
    expect((await get(server.port, '/', { Host: `127.0.0.1:${server.port}` })).status).toBe(200);
    for (const h of ['evil.example', `evil.example:${server.port}`, 'localhost', `localhost:${server.port + 1}`, `localhost.evil.example:${server.port}`]) {
      expect((await get(server.port, '/', { Host: h })).status, h).toBe(421);
    }
    expect(ownHost(undefined, 80)).toBe(false);
  });

  it('follows no symlink out of its folder; a link inside it is served', async () => {
    for (const p of ['/leak.txt', '/leakdir/secret.txt', '/dangling.txt', '/loop1', '/%2e%2e/etc/passwd', '/..%2f..%2fetc/passwd', '/sub/../../etc/passwd']) {
      const r = await get(server.port, p, host);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain('secret');
    }
    expect((await get(server.port, '/inner-link.txt', host)).body).toBe('inside');
  });

  it('survives malformed Range headers and fuzzed headers, and still serves', async () => {
    const ranges = ['bytes=5-2', 'bytes=99999999-', 'bytes=-0', 'bytes=0-0,5-2', 'bytes=abc', 'items=1-2', 'bytes=9999999999999999999-1', 'bytes=-', 'bytes=3-3'];
    for (const range of ranges) {
      const r = await get(server.port, '/index.html', { ...host, Range: range });
      expect([200, 206, 416], range).toContain(r.status);
    }
    const rng = (() => {
      let s = 7;
      return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    })();
    const names = ['Range', 'If-None-Match', 'If-Modified-Since', 'Accept-Encoding', 'Accept', 'Cookie', 'X-Forwarded-For', 'If-Range'];
    for (let i = 0; i < 60; i++) {
      const value = Array.from({ length: 1 + Math.floor(rng() * 30) }, () => String.fromCharCode(33 + Math.floor(rng() * 94))).join('');
      const r = await get(server.port, '/index.html', { ...host, [names[i % names.length]]: value });
      expect(r.status).toBeLessThan(500);
    }
    const last = await get(server.port, '/index.html', host);
    expect(last.status).toBe(200);
    expect(last.body).toContain('0123456789');
  });
});
