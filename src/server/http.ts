/**
 * Small HTTP helpers shared by the routes: Zoho JSON replies, error rendering, download headers, bounded JSON
 * bodies.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ZohoError, zohoError } from '../domain/errors.js';
import { drainRest } from './drain.js';

/** Zoho answers every JSON body, errors included, with this type (the official SDK picks its parser from it). */
export const JSON_TYPE = 'application/json;charset=UTF-8';

/**
 * What Zoho's API sends with every JSON answer besides its type (docs/zoho-api.md §11, observed): a download name and
 * no caching. The SDKs choose their parser by Content-Type alone (§12.4), so the disposition changes nothing for them.
 */
const ZOHO_JSON_HEADERS = {
  'content-disposition': 'attachment; filename=response.json',
  'cache-control': 'no-store, no-cache, must-revalidate, private',
  pragma: 'no-cache',
  expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
};

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  // Zoho's API surface only: the admin API, health and the token endpoint keep plain JSON answers.
  if (reply.request.url.startsWith('/crm/')) reply.headers(ZOHO_JSON_HEADERS);
  return reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify(body));
}

export function sendError(reply: FastifyReply, err: ZohoError): FastifyReply {
  const facts = reply.request.journal;
  if (facts) facts.code = err.code;
  return sendJson(reply, err.status, err.toBody());
}

/**
 * `attachment; filename="…"`, plus RFC 5987 `filename*` when the name is not plain ASCII or holds `'` or `=`. The
 * official SDK reads this header on every download and fails without it; it takes the text after the header's last
 * `'` (else after its last `=`), which would cut `O'Neil.pdf` or `a=b.pdf` short, so those get the encoded form too.
 */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const header = `attachment; filename="${fallback}"`;
  if (/^[\x20-\x26\x28-\x3c\x3e-\x7e]*$/.test(fileName)) return header;
  return `${header}; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A whole request body of at most `maxBytes`; undefined as soon as it is longer (the rest stays unread). */
export async function readBounded(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON request body of at most `maxBytes`; anything longer or not JSON is INVALID_DATA. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBounded(req, maxBytes);
  if (!body) throw zohoError('REQUEST_BODY_TOO_LARGE', { maximum_bytes: maxBytes });
  if (body.length === 0) throw zohoError('INVALID_DATA', { expected_data_type: 'jsonobject' });
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw zohoError('INVALID_DATA', { expected_data_type: 'jsonobject' });
  }
}

/** A request carries a body when it says so (length > 0 or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** A single query parameter; repeated parameters keep the first (the official SDK joins lists with commas). */
export function queryParam(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Answers with a Zoho error, then discards (boundedly) whatever of the request body was not read. */
export function rejectRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  err: ZohoError,
  limits: { maxBytes: number; maxMs: number },
): FastifyReply {
  // A client too slow to send its body in time gets a moment to read the answer, not the usual drain.
  const timedOut = err.entry === 'REQUEST_TIMEOUT';
  if (timedOut) reply.header('connection', 'close');
  const sent = sendError(reply, err);
  if (hasBody(request.raw)) drainRest(request.raw, timedOut ? { ...limits, maxMs: 1_000 } : limits);
  return sent;
}
