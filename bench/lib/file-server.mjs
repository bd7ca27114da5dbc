/**
 * What the two baseline servers (bench/baseline-server.mjs on disk, bench/s3-baseline-server.mjs on S3) share: the
 * command line, JSON answers, and a node:http server for `/files/NAME` on 127.0.0.1 with no timeouts of its own.
 */
import { createServer } from 'node:http';

/** `--name value` from the command line, or `dflt`. */
export function argOpt(name, dflt) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
}

export const TYPES = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', bin: 'application/octet-stream' };
export const typeOf = (name) => TYPES[name.split('.').pop()] ?? 'application/octet-stream';

export function reply(res, status, obj) {
  if (res.headersSent) return;
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Serves `GET|HEAD /files/NAME` with `get(req, res, name)` and `POST /files/NAME` with `post(req, res, name)` on
 * `port`, prints "`label` listening on URL", and stops on SIGTERM/SIGINT.
 */
export function serveFiles({ port, label, get, post }) {
  const server = createServer((req, res) => {
    const m = /^\/files\/([^/?]+)/.exec(req.url ?? '');
    if (!m || !NAME.test(m[1])) return reply(res, 404, { error: 'not found' });
    if (req.method === 'GET' || req.method === 'HEAD') return void get(req, res, m[1]);
    if (req.method === 'POST') return post(req, res, m[1]);
    return reply(res, 405, { error: 'method not allowed' });
  });
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${label} listening on http://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
