/**
 * The HTTP server: Fastify with no body parsers of its own (routes stream or read bodies themselves, with
 * limits), Zoho-shaped errors for everything including unknown paths, malformed requests and unexpected failures,
 * and the operational endpoints (`/healthz`, `/readyz`, `/metrics`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { isZohoError, zohoError } from '../domain/errors.js';
import type { Runtime } from '../runtime.js';
import { sendError, sendJson } from './http.js';
import { ServerMetrics } from './metrics.js';
import { CONNECT_REFUSAL, type Refusal, rawErrorResponse, refusalError, refusalOfClientError, refusalOfRequest } from './protocol-refusals.js';
import { type JournalFacts, type RequestEntry, RequestJournal, redactedQuery, requestIdGenerator } from './request-journal.js';
import { type AdminSurface, registerAdminSurface } from './admin-surface.js';
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
  /** HTTPS with this PEM certificate and key (`--tls-cert`, `--tls-key`) instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /**
   * What this listener serves: everything (default), the Zoho surface only (`api`: /_admin and /_console answer
   * Zoho's 404), or the admin surface only (`admin`, the listener of `--admin-port`).
   */
  surface?: 'all' | 'api' | 'admin';
  /** The journal to fill or show (the admin listener shows the main listener's); default: a new one. */
  journal?: RequestJournal;
}

export interface CrmMediaServer {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** The newest requests to the Zoho surface of this instance. */
  journal: RequestJournal;
  /** From now on new requests are refused (503) while the ones in flight finish. */
  beginClosing(): void;
}

export function buildServer(rt: Runtime, opts: ServerOptions): CrmMediaServer {
  const metrics = new ServerMetrics();
  const journal = opts.journal ?? new RequestJournal(rt.config.journalSize);
  const surface = opts.surface ?? 'all';
  // One listener counts the webhook outcomes (the admin listener shares the runtime and would count them twice).
  if (surface !== 'admin') metrics.watchWebhooks(rt.webhooks.outcomes);
  const accessLog = rt.config.accessLog;
  let closing = false;
  const nextRequestId = requestIdGenerator();
  /** Answers a protocol-level refusal on a socket no reply owns (the parser gave up, or CONNECT), and counts it. */
  const refuseOnSocket = (socket: Duplex, refusal: Refusal) => {
    const err = refusalError(refusal);
    metrics.protocolRefused(refusal.kind, err.status);
    socket.end(rawErrorResponse(err, nextRequestId()));
  };
  const app = Fastify({
    genReqId: nextRequestId,
    // Node's own answers (400 for a missing Host, 417 for an unknown Expect) are plain text; those requests are let
    // through to the onRequest hook, which refuses them in Zoho's shape. Timeouts are checked every second, so that
    // a request whose headers are too slow is answered promptly after its bound rather than up to 30 s later.
    ...(opts.tls
      ? { https: { ...opts.tls, requireHostHeader: false, connectionsCheckingInterval: 1_000 } }
      : { http: { requireHostHeader: false, connectionsCheckingInterval: 1_000 } }),
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
    // Malformed HTTP (the parser refused it) and requests too slow to arrive: answered in Zoho's shape, with the
    // status HTTP gives each (protocol-refusals.ts), not Node's plain-text 400. Never logged: the packet holds headers.
    clientErrorHandler: (err, socket) => {
      const refusal = refusalOfClientError(err as unknown as { code?: string; reason?: string; rawPacket?: Buffer });
      if (!refusal || !socket.writable) return socket.destroy();
      const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
      if (!inFlight) return refuseOnSocket(socket, refusal);
      if (inFlight.req.complete) {
        // The refused bytes follow a whole request (pipelined): its answer goes out first, then the refusal.
        inFlight.once('finish', () => (socket.writable ? refuseOnSocket(socket, refusal) : socket.destroy()));
        inFlight.once('close', () => inFlight.writableFinished || socket.destroy());
        return;
      }
      if (!inFlight.headersSent) return refuseOnSocket(socket, refusal);
      // The request's own body is broken after its answer began (an upload refused early): no second answer fits.
      metrics.protocolRefused(refusal.kind, 0);
      if (inFlight.writableEnded) socket.end();
      else socket.destroy();
    },
  });

  // CONNECT never reaches a route: without a listener Node drops the connection without a word.
  app.server.on('connect', (_req: IncomingMessage, socket: Duplex) => (socket.writable ? refuseOnSocket(socket, CONNECT_REFUSAL) : socket.destroy()));
  // An Expect other than 100-continue: Node would answer 417 by itself; through Fastify, the onRequest hook answers it.
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => app.server.emit('request', req, res));

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
    const refusal = refusalOfRequest(request.raw);
    if (refusal) {
      const err = refusalError(refusal);
      request.operation = 'protocol';
      metrics.protocolRefused(refusal.kind, err.status);
      // The body was not read and cannot be told apart from a next request: the connection ends with the answer.
      reply.header('connection', 'close');
      sendError(reply, err);
      return;
    }
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

  if (surface === 'admin') {
    app.setNotFoundHandler((_request, reply) => sendError(reply, zohoError('INVALID_URL_PATTERN')));
  } else {
    const crm = registerCrmRoutes(app, rt, metrics);
    // Methods the router does not route (PROPFIND, SEARCH, …) still get Zoho's answer on Zoho's paths.
    app.setNotFoundHandler((request, reply) =>
      request.url.startsWith('/crm/') ? crm(request, reply) : sendError(reply, zohoError('INVALID_URL_PATTERN')),
    );
    registerOAuthRoutes(app, rt);
  }
  const admin: AdminSurface | undefined = surface === 'api' ? undefined : registerAdminSurface(app, rt, { adminKey: opts.adminKey, journal });
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
      admin?.stopWaits();
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
