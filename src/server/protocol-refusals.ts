/**
 * Refusals at the HTTP protocol level, before any route runs: what Node's parser rejects (reported as `clientError`),
 * what Node would otherwise answer by itself in plain text (an HTTP/1.1 request without Host, an Expect other than
 * 100-continue, CONNECT), and request lines Node accepts but this server does not speak (HTTP/0.9, HTTP/2.0 in an
 * HTTP/1 request line). Each gets Zoho's JSON envelope with the status HTTP gives it, the connection is closed (the
 * body, if any, was not read and cannot be told from the next request), and the refusal is counted by kind.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { type ErrorName, type ZohoError, zohoError } from '../domain/errors.js';
import { JSON_TYPE } from './http.js';

/** The metrics label of a refusal. */
export type RefusalKind =
  | 'malformed'
  | 'method'
  | 'url'
  | 'framing'
  | 'version'
  | 'header_size'
  | 'header_count'
  | 'chunk_extensions'
  | 'timeout'
  | 'host'
  | 'expect'
  | 'connect'
  | 'tls';

export interface Refusal {
  kind: RefusalKind;
  error: ErrorName;
}

/**
 * Header fields one request may carry. Node keeps the first 2000 and drops the rest silently; a request with more
 * than this many is refused instead (browsers send about 20, proxies add a few). The 16 KiB header size limit of Node
 * bounds the memory either way.
 */
export const MAX_HEADER_FIELDS = 256;

const BY_PARSER_CODE: Record<string, Refusal> = {
  HPE_INVALID_URL: { kind: 'url', error: 'INVALID_URL_PATTERN' },
  HPE_PAUSED_H2_UPGRADE: { kind: 'version', error: 'HTTP_VERSION_NOT_SUPPORTED' },
  HPE_HEADER_OVERFLOW: { kind: 'header_size', error: 'HEADERS_TOO_LARGE' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { kind: 'chunk_extensions', error: 'CHUNK_EXTENSIONS_TOO_LARGE' },
  HPE_UNEXPECTED_CONTENT_LENGTH: { kind: 'framing', error: 'INVALID_REQUEST' },
  HPE_INVALID_CONTENT_LENGTH: { kind: 'framing', error: 'INVALID_REQUEST' },
  HPE_INVALID_TRANSFER_ENCODING: { kind: 'framing', error: 'INVALID_REQUEST' },
  HPE_INVALID_CHUNK_SIZE: { kind: 'framing', error: 'INVALID_REQUEST' },
  ERR_HTTP_REQUEST_TIMEOUT: { kind: 'timeout', error: 'REQUEST_TIMEOUT' },
};

/** `TOKEN /path…`: the start of a request line (RFC 9110 method token, then an origin-form target). */
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \//;

const MALFORMED: Refusal = { kind: 'malformed', error: 'INVALID_REQUEST' };

/** Socket errors that mean the client went away: nothing to answer, nothing refused. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);

/** A TLS handshake record (a ClientHello) sent to the plain-HTTP port: `https://` pointed at this server. */
function isTlsHandshake(packet: Buffer | undefined): boolean {
  return packet !== undefined && packet.length >= 3 && packet[0] === 0x16 && packet[1] === 0x03 && packet[2]! <= 0x04;
}

/** The refusal for an error of Node's HTTP parser, or undefined when the client simply went away. */
export function refusalOfClientError(err: { code?: string; reason?: string; rawPacket?: Buffer }): Refusal | undefined {
  const code = err.code ?? '';
  if (CLIENT_GONE.has(code)) return undefined;
  if (code === 'HPE_INVALID_METHOD') {
    // Counted apart: a client speaking TLS to the plain port is a configuration mistake, not a hostile request.
    if (isTlsHandshake(err.rawPacket)) return { kind: 'tls', error: 'INVALID_REQUEST' };
    // A request line of the right shape with a method nobody knows is a wrong method; anything else is noise.
    return REQUEST_LINE.test(err.rawPacket?.subarray(0, 64).toString('latin1') ?? '') ? { kind: 'method', error: 'INVALID_REQUEST_METHOD' } : MALFORMED;
  }
  // llhttp reports a version it does not know and a missing CR after the version under one code.
  if (code === 'HPE_INVALID_VERSION') return err.reason === 'Invalid HTTP version' ? { kind: 'version', error: 'HTTP_VERSION_NOT_SUPPORTED' } : MALFORMED;
  return BY_PARSER_CODE[code] ?? MALFORMED;
}

/** The refusal for a request Node parsed but this server does not take, or undefined when it is acceptable. */
export function refusalOfRequest(req: IncomingMessage): Refusal | undefined {
  if (req.httpVersionMajor !== 1) return { kind: 'version', error: 'HTTP_VERSION_NOT_SUPPORTED' };
  if (req.httpVersionMinor === 1 && req.headers.host === undefined) return { kind: 'host', error: 'HOST_REQUIRED' };
  if (req.rawHeaders.length / 2 > MAX_HEADER_FIELDS) return { kind: 'header_count', error: 'TOO_MANY_HEADERS' };
  const expect = req.headers.expect;
  if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') return { kind: 'expect', error: 'EXPECTATION_FAILED' };
  return undefined;
}

export const CONNECT_REFUSAL: Refusal = { kind: 'connect', error: 'INVALID_REQUEST_METHOD' };

/** A complete HTTP/1.1 response for a catalog error, for a socket no Fastify reply owns. */
export function rawErrorResponse(err: ZohoError, requestId: string): string {
  const body = JSON.stringify(err.toBody());
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status]}\r\n` +
    `Content-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Content-Type-Options: nosniff\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`
  );
}

export function refusalError(r: Refusal): ZohoError {
  return zohoError(r.error);
}
