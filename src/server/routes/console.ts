/**
 * The web console at `/_console/`: the built front-end (`npm run build` writes it to dist/console/, shipped in the
 * package) served from memory with a strict Content-Security-Policy — everything comes from this server, nothing from
 * a CDN — and the session endpoints:
 *   POST /_console/login     the admin key, once (JSON `{"key": …}` or a form field `key`) → session cookie
 *   GET  /_console/session   the session's CSRF token and when the session ends (401 without one)
 *   POST /_console/logout
 * The key travels only in a request body, never in a URL; the console then talks to /_admin with its cookie.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isZohoError, zohoError } from '../../domain/errors.js';
import { packageRoot } from '../../package-root.js';
import type { AdminGate } from '../admin-gate.js';
import { readBounded, rejectRequest, sendError, sendJson } from '../http.js';

/**
 * Where `npm run build` puts the console, found from the package's folder: this module runs from src/, dist/ and
 * the bundle's dist/bundle/ (src/package-root.ts). Outside the package there is no console; the page says so.
 */
export const CONSOLE_DIR: string | undefined = (() => {
  const root = packageRoot();
  return root ? join(root.dir, 'dist', 'console') : undefined;
})();

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Everything comes from this server; no inline script; not framed; forms post only here. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The built files, read once at start: a few hundred kilobytes at most. */
function loadAssets(dir: string | undefined): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (dir === undefined) return assets;
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch {
    return assets;
  }
  for (const file of entries) {
    const body = readFileSync(file);
    const path = relative(dir, file).split(sep).join('/');
    assets.set(path, { body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"` });
  }
  return assets;
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>crm-media console</title></head>
<body><h1>The console is not built</h1><p>Run <code>npm run build</code> in the package, then restart the server.</p></body></html>`;

export function registerConsoleRoutes(app: FastifyInstance, gate: AdminGate, dir: string | undefined = CONSOLE_DIR): void {
  const assets = loadAssets(dir);

  const serve = (request: FastifyRequest, reply: FastifyReply, path: string) => {
    request.operation = 'console';
    reply.headers(SECURITY_HEADERS);
    const asset = assets.get(path);
    if (!asset) {
      if (path === 'index.html') return reply.code(503).header('content-type', TYPES['.html']).header('cache-control', 'no-store').send(NOT_BUILT);
      return sendError(reply, zohoError('INVALID_URL_PATTERN'));
    }
    // Hashed file names never change content; the page itself is looked at again every time.
    reply.header('cache-control', path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('etag', asset.etag);
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.header('content-type', asset.type).send(asset.body);
  };

  app.get('/_console', (request, reply) => {
    request.operation = 'console';
    return reply.redirect('/_console/', 308);
  });
  app.get('/_console/', (request, reply) => serve(request, reply, 'index.html'));
  app.get<{ Params: { '*': string } }>('/_console/*', (request, reply) => serve(request, reply, request.params['*']));

  const guarded = (handler: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) => async (request: FastifyRequest, reply: FastifyReply) => {
    request.operation = 'console';
    reply.header('cache-control', 'no-store');
    try {
      return await handler(request, reply);
    } catch (err) {
      if (!isZohoError(err)) throw err;
      return rejectRequest(request, reply, err, { maxBytes: 64 * 1024, maxMs: 5_000 });
    }
  };

  app.post(
    '/_console/login',
    guarded(async (request, reply) => {
      const key = await keyOf(request);
      const session = gate.login(request, reply, key);
      return sendJson(reply, 200, { csrf_token: session.csrf, expires_at: new Date(session.expiresAt).toISOString() });
    }),
  );
  app.get(
    '/_console/session',
    guarded(async (request, reply) => {
      const session = gate.session(request);
      if (!session) throw zohoError('ADMIN_UNAUTHORIZED');
      return sendJson(reply, 200, { csrf_token: session.csrf, expires_at: new Date(session.expiresAt).toISOString() });
    }),
  );
  app.post(
    '/_console/logout',
    guarded(async (request, reply) => {
      gate.logout(request, reply);
      return sendJson(reply, 200, { logged_out: true });
    }),
  );
}

/** The key from the login form: JSON `{"key": "…"}` or `key=…` form-encoded; never from the URL. */
async function keyOf(request: FastifyRequest): Promise<string> {
  const body = await readBounded(request.raw, 4096);
  if (!body) throw zohoError('REQUEST_BODY_TOO_LARGE', { maximum_bytes: 4096 });
  const text = body.toString('utf8');
  const type = request.headers['content-type'] ?? '';
  let key: unknown;
  if (type.startsWith('application/x-www-form-urlencoded')) key = new URLSearchParams(text).get('key');
  else {
    try {
      key = (JSON.parse(text) as { key?: unknown }).key;
    } catch {
      key = undefined;
    }
  }
  if (typeof key !== 'string' || key === '') throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'key' });
  return key;
}
