/**
 * Zoho Accounts' token endpoints on the same host: `POST /oauth/v2/token` and `POST /oauth/v2/token/revoke`.
 * Parameters come from the query string, an urlencoded body or a multipart body (the official SDK's way), the body
 * winning. Every answer is HTTP 200 JSON, errors included (`{"error":"invalid_client"}`), as Zoho Accounts does.
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

export function registerOAuthRoutes(app: FastifyInstance, rt: Runtime): void {
  const fromHost = (request: FastifyRequest) => apiDomainForHost(request.headers.host ?? '127.0.0.1', request.protocol);
  const apiDomain = (request: FastifyRequest) =>
    rt.config.apiDomainFromHost ? fromHost(request) : (rt.config.publicUrl?.replace(/\/$/, '') ?? `${request.protocol}://${request.headers.host ?? '127.0.0.1'}`);

  const handle = (operation: string, answer: (params: TokenParams, request: FastifyRequest) => Promise<object>) =>
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
      // The client id is no secret (the client secret is): the journal may say which client asked.
      facts.clientId = params['client_id'] ?? null;
      return answered(await answer(params, request));
    };

  app.all('/oauth/v2/token', handle('token', (params, request) => rt.oauth.token(params, apiDomain(request))));
  app.all('/oauth/v2/token/revoke', handle('token.revoke', (params) => rt.oauth.revoke(params['token'])));
}
