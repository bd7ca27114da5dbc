/**
 * The HTTP server: Fastify with no body parsers of its own (routes stream or read bodies themselves, with
 * limits), Zoho-shaped errors for everything including unknown paths, malformed requests and unexpected failures,
 * and the operational endpoints (`/healthz`, `/readyz`, `/metrics`).
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { type ZohoError, isZohoError, zohoError } from '../domain/errors.js';
import type { Runtime } from '../runtime.js';
import { JSON_TYPE, sendError, sendJson } from './http.js';
import { installFaultHooks } from './limits-pipeline.js';
import { ServerMetrics } from './metrics.js';
import { type JournalFacts, type RequestEntry, RequestJournal, redactedQuery, requestIdGenerator } from './request-journal.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerCrmRoutes } from './routes/crm.js';
import { registerOAuthRoutes } from './routes/oauth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API operation (or endpoint group) the request was routed to; the metrics label. */
    operation: string;
    /** Request body bytes the route read (uploads, JSON); the metrics' bytes in. */
    bodyBytes: number;
    /** What the journal and the access log say of a request to the Zoho surface; undefined for other requests. */
    journal: JournalFacts | undefined;
  }
}

export interface ServerOptions {
  logger: Logger;
  adminKey: string;
}

export interface CrmMediaServer {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** The newest requests to the Zoho surface of this instance. */
  journal: RequestJournal;
  /** From now on new requests are refused (503) while the ones in flight finish. */
  beginClosing(): void;
}

/** A complete HTTP/1.1 response for a catalog error, written to a socket Fastify has not taken over. */
function rawErrorResponse(err: ZohoError): string {
  const body = JSON.stringify(err.toBody());
  return `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status]}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
const CLIENT_ERROR_RESPONSE = rawErrorResponse(zohoError('INVALID_REQUEST'));
const REQUEST_TIMEOUT_RESPONSE = rawErrorResponse(zohoError('REQUEST_TIMEOUT'));

export function buildServer(rt: Runtime, opts: ServerOptions): CrmMediaServer {
  const metrics = new ServerMetrics();
  const journal = new RequestJournal(rt.config.journalSize);
  const accessLog = rt.config.accessLog;
  let closing = false;
  const app = Fastify({
    genReqId: requestIdGenerator(),
    loggerInstance: opts.logger as FastifyBaseLogger,
    // A log line per request costs more than serving a small photo; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // Never a connection silent for longer than the idle bound: a stalled client cannot hold a socket, a temp file or
    // an S3 upload slot forever. Node enforces requestTimeout on slow headers only; an upload's body has its own
    // deadline (multipart.ts), answered in Zoho's shape.
    requestTimeout: rt.config.requestTimeoutMs,
    connectionTimeout: rt.config.idleTimeoutMs,
    keepAliveTimeout: 72_000,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 500 },
    // Errors the router raises before any route runs (a path that does not percent-decode): Zoho's answer for a
    // URL it cannot use.
    frameworkErrors: (err, _request, reply) => {
      if (err.code === 'FST_ERR_BAD_URL') return sendError(reply, zohoError('INVALID_URL_PATTERN'));
      return sendError(reply, zohoError('INVALID_REQUEST'));
    },
    // Malformed HTTP (the parser refused it): answer in Zoho's shape, not Node's plain-text 400.
    // Also the request timeout (headers that take too long).
    clientErrorHandler: (err, socket) => {
      const response = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (!socket.writable || response?.headersSent) return socket.destroy();
      const timedOut = (err as { code?: string }).code === 'ERR_HTTP_REQUEST_TIMEOUT';
      socket.end(timedOut ? REQUEST_TIMEOUT_RESPONSE : CLIENT_ERROR_RESPONSE);
    },
  });

  app.decorateRequest('operation', 'other');
  app.decorateRequest('bodyBytes', 0);
  app.decorateRequest('journal', undefined);

  app.removeAllContentTypeParsers();
  // Bodies stay unread until a route decides how to read them (streamed multipart, bounded JSON).
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  // Hooks in callback style: on every request, async hooks would cost a promise each for nothing.
  app.addHook('onRequest', (request, reply, done) => {
    // Every answer carries the id its log lines and journal entry carry.
    reply.header('x-request-id', request.id);
    // Fastify answers a Content-Type it cannot parse with its own 415 before any route runs. Routes judge bodies
    // themselves (an upload that is not multipart gets Zoho's INVALID_REQUEST), so such a header counts as absent.
    const contentType = request.headers['content-type'];
    if (contentType !== undefined && !isParsableMediaType(contentType)) delete request.headers['content-type'];
    if (!closing) return done();
    reply.header('connection', 'close');
    sendError(reply, zohoError('SERVICE_UNAVAILABLE'));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    // While closing, a connection must not go back to idle keep-alive, or closing would wait for it.
    if (closing) reply.header('connection', 'close');
    // A change is acknowledged only once it is durable (a no-op for reads and for engines durable by themselves).
    if (request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400) return done(null, payload);
    rt.store.durable().then(
      () => done(null, payload),
      (err: unknown) => done(err as Error),
    );
  });
  app.addHook('onResponse', (request, reply, done) => {
    const bytesIn = request.bodyBytes || Number(request.headers['content-length'] ?? 0) || 0;
    const bytesOut = Number(reply.getHeader('content-length') ?? 0) || 0;
    metrics.observe(request.operation, request.method, reply.statusCode, reply.elapsedTime / 1000, bytesIn, bytesOut);
    const facts = request.journal;
    if (facts && (journal.enabled || accessLog)) {
      const q = request.url.indexOf('?');
      const entry: RequestEntry = {
        seq: journal.nextSeq(),
        id: request.id,
        time: Date.now() - reply.elapsedTime,
        method: request.method,
        path: q === -1 ? request.url : request.url.slice(0, q),
        query: redactedQuery(request.url),
        operation: request.operation,
        orgId: facts.orgId,
        userId: facts.userId,
        clientId: facts.clientId,
        recordId: facts.recordId,
        status: reply.statusCode,
        code: facts.code,
        latencyMs: Math.round(reply.elapsedTime * 1000) / 1000,
        bytesIn,
        bytesOut,
        marks: facts.marks,
      };
      journal.add(entry);
      if (accessLog) request.log.info({ request: entry }, 'request');
    }
    done();
  });

  installFaultHooks(app);

  app.setErrorHandler((err, request, reply) => {
    if (isZohoError(err)) return sendError(reply, err);
    // Everything else is a defect or an outage: log it whole, answer with the fixed text only.
    request.log.error({ err, method: request.method, path: request.url.split('?', 1)[0], query: redactedQuery(request.url) }, 'unhandled error');
    if (reply.sent) return;
    return sendError(reply, zohoError('INTERNAL_ERROR'));
  });

  app.get('/healthz', async (request, reply) => {
    request.operation = 'healthz';
    return sendJson(reply, 200, { status: 'ok' });
  });
  app.get('/readyz', async (request, reply) => {
    request.operation = 'readyz';
    const [database, blobs] = await Promise.all([probe(() => rt.store.ping()), probe(() => rt.blobs.check())]);
    const ready = database === 'ok' && blobs === 'ok';
    return sendJson(reply, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', database, blob_store: blobs });
  });
  app.get('/metrics', async (request, reply) => {
    request.operation = 'metrics';
    return reply.header('content-type', metrics.contentType).send(await metrics.render());
  });

  const crm = registerCrmRoutes(app, rt, metrics);
  // Methods the router does not route (PROPFIND, SEARCH, …) still get Zoho's answer on Zoho's paths.
  app.setNotFoundHandler((request, reply) =>
    request.url.startsWith('/crm/') ? crm(request, reply) : sendError(reply, zohoError('INVALID_URL_PATTERN')),
  );
  registerOAuthRoutes(app, rt);
  registerAdminRoutes(app, rt, opts.adminKey);
  app.addHook('onClose', (_instance, done) => {
    journal.close();
    done();
  });
  return {
    app,
    metrics,
    journal,
    beginClosing() {
      closing = true;
    },
  };
}

const TYPE_TOKEN = /^[\w!#$%&'*+.^`|~-]+$/;
const SUBTYPE_TOKEN = /^[\w!#$%&'*+.^`|~-]+\s*$/;

/** The media types Fastify's own parser accepts (`type/subtype`, optionally followed by `;` and anything). */
export function isParsableMediaType(header: string): boolean {
  if (header === '' || header === 'undefined') return false;
  const semicolon = header.indexOf(';');
  const mediaType = semicolon === -1 ? header : header.slice(0, semicolon);
  const slash = mediaType.indexOf('/');
  if (slash === -1) return false;
  return TYPE_TOKEN.test(mediaType.slice(0, slash).trimStart()) && SUBTYPE_TOKEN.test(mediaType.slice(slash + 1).trimEnd());
}

/** `ok`, or the failure's kind only (readiness is public; details go to the log). */
async function probe(check: () => Promise<void>): Promise<string> {
  try {
    await check();
    return 'ok';
  } catch (err) {
    return `unreachable (${(err as { code?: string; name?: string }).code ?? (err as Error).name ?? 'error'})`;
  }
}
