#!/usr/bin/env node
// A static file server for the web chat example (no dependencies):
//   node examples/web-chat/serve.mjs [--port 8000] [--host 127.0.0.1]
// serves the page at http://HOST:PORT/ from examples/web-chat/ and the
// client from clients/js/ (the page imports ../../clients/js/pushd-client.js).
// pushd itself serves only /ws, /health, /stats and /metrics.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Only these folders are served.
const SERVED = ['examples/web-chat', 'clients/js'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** Creates the server (not listening); exported for the tests. */
export function createServer() {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || rel === '/examples/web-chat') {
      res.writeHead(302, { Location: `/examples/web-chat/${url.search}` });
      res.end();
      return;
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.normalize(path.join(ROOT, rel));
    const allowed = SERVED.some((dir) => file.startsWith(path.join(ROOT, dir) + path.sep));
    if (req.method !== 'GET' || !allowed || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
      'Cache-Control': 'no-store',
    });
    fs.createReadStream(file).pipe(res);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const host = arg('host', '127.0.0.1');
  const port = Number(arg('port', '8000'));
  createServer().listen(port, host, () => {
    console.log(`web chat: http://${host === '0.0.0.0' ? 'localhost' : host}:${port}/ (Ctrl-C stops it)`);
  });
}
