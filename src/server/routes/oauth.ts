/**
 * Zoho Accounts' token endpoints on the same host: `POST /oauth/v2/token` and `POST /oauth/v2/token/revoke`.
 * Parameters come from the query string, an urlencoded body or a multipart body (the official SDK's way), the body
 * winning; the client's id and secret may instead come as HTTP Basic credentials (docs/zoho-api.md §7.1). Every
 * answer is HTTP 200 JSON, errors included (`{"error":"invalid_client"}`), as Zoho Accounts does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isZohoError } from '../../domain/errors.js';
import type { TokenParams } from '../../domain/oauth.js';
import type { Runtime } from '../../runtime.js';
import { drainRest } from '../drain.js';
import { hasBody, readBounded, sendJson } from '../http.js';
import { MultipartBody, isMultipart } from '../multipart.js';
import { apiDomainForHost } from '../zoho-hosts.js';
import { journalFacts } from '../request-journal.js';
import { applyFaults } from '../limits-pipeline.js';

const MAX_FORM_BYTES = 64 * 1024;

async function readUrlencoded(request: FastifyRequest): Promise<TokenParams | undefined> {
  const body = await readBounded(request.raw, MAX_FORM_BYTES);
  return body && Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}

async function readMultipartFields(request: FastifyRequest): Promise<TokenParams> {
  const body = new MultipartBody(request.raw, { maxFileBytes: MAX_FORM_BYTES });
  const fields: TokenParams = {};
  try {
    for await (const part of body) {
      if (part.kind === 'field') fields[part.name] = part.value;
      else part.stream.resume();
    }
  } finally {
    body.stop();
  }
  return fields;
}

/** Query parameters, overridden by body parameters; undefined when the body cannot be read. */
async function tokenParams(request: FastifyRequest): Promise<TokenParams | undefined> {
  const query: TokenParams = {};
  for (const [k, v] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    query[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  if (!hasBody(request.raw)) return query;
  const type = request.headers['content-type'] ?? '';
  if (isMultipart(type)) return { ...query, ...(await readMultipartFields(request)) };
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    const form = await readUrlencoded(request);
    return form && { ...query, ...form };
  }
  return query;
}

/**
 * `Authorization: Basic base64(client_id:client_secret)` (RFC 6749 §2.3.1: each part form-urlencoded first); null
 * when there is no Basic header, undefined when there is one that cannot be read.
 */
function basicClient(header: string | undefined): { id: string; secret: string } | null | undefined {
  const m = header === undefined ? null : /^basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header);
  if (!m) return header !== undefined && /^basic\b/i.test(header) ? undefined : null;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    const decode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
    return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * The client's credentials from a Basic header merged into the parameters; undefined when the header is unreadable
 * or names another client than the parameters do (a client authenticates one way, RFC 6749 §2.3).
 */
function withBasicClient(params: TokenParams, header: string | undefined): TokenParams | undefined {
  const basic = basicClient(header);
  if (basic === null) return params;
  if (basic === undefined) return undefined;
  const disagrees = (name: string, value: string) => params[name] !== undefined && params[name] !== value;
  if (disagrees('client_id', basic.id) || disagrees('client_secret', basic.secret)) return undefined;
  return { ...params, client_id: basic.id, client_secret: basic.secret };
}

export function registerOAuthRoutes(app: FastifyInstance, rt: Runtime): void {
  const fromHost = (request: FastifyRequest) => apiDomainForHost(request.headers.host ?? '127.0.0.1', request.protocol);
  const apiDomain = (request: FastifyRequest) =>
    rt.config.apiDomainFromHost ? fromHost(request) : (rt.config.publicUrl?.replace(/\/$/, '') ?? `${request.protocol}://${request.headers.host ?? '127.0.0.1'}`);

  const handle = (operation: string, answer: (params: TokenParams, request: FastifyRequest, marks: string[]) => Promise<object>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      request.operation = operation;
      const facts = journalFacts();
      request.journal = facts;
      const answered = (body: object) => {
        const error = (body as { error?: unknown }).error;
        if (typeof error === 'string') facts.code = error;
        return sendJson(reply, 200, body);
      };
      if (request.method !== 'POST') return answered({ error: 'invalid_request' });
      let params: TokenParams | undefined;
      try {
        params = await tokenParams(request);
      } catch (err) {
        if (!isZohoError(err)) throw err;
        params = undefined;
      }
      if (!params) {
        const sent = answered({ error: 'invalid_request' });
        drainRest(request.raw, { maxBytes: MAX_FORM_BYTES, maxMs: 5_000 });
        return sent;
      }
      const withClient = withBasicClient(params, request.headers.authorization);
      if (!withClient) return answered({ error: 'invalid_client' });
      // The client id is no secret (the client secret is): the journal may say which client asked.
      facts.clientId = withClient['client_id'] ?? null;
      const clientId = withClient['client_id'];
      const injected = await applyFaults(rt, request, reply, {
        operation,
        method: request.method,
        clientId,
        owner: clientId === undefined ? undefined : () => rt.oauth.ownerOf(clientId),
      });
      if (injected) return injected;
      return answered(await answer(withClient, request, facts.marks));
    };

  app.all('/oauth/v2/token', handle('token', (params, request, marks) => rt.oauth.token(params, apiDomain(request), marks)));
  app.all('/oauth/v2/token/revoke', handle('token.revoke', (params) => rt.oauth.revoke(params['token'])));
}
