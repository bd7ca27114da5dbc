/**
 * Refusals at the HTTP protocol level, over raw TCP sockets: every request Node's HTTP layer would refuse (or answer
 * by itself in plain text) gets Zoho's JSON envelope, the status HTTP gives it, an X-Request-Id, a closed connection
 * and one count in `crm_media_protocol_refusals_total` by kind. Then random bytes and mutated requests: always a
 * Zoho-shaped answer or a clean close, never a crash or a stack trace.
 */
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type RawResult, rawExchange, write } from '../helpers/robustness.js';
import { type HttpResponse, TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;
let record = '';
let image: Buffer;

beforeAll(async () => {
  server = await TestServer.start({ requestTimeoutMs: 1_000, idleTimeoutMs: 60_000 });
  record = await server.createRecord('Leads');
  image = png(20, 10);
  const { body, contentType } = filePart(image, 'p.png', 'image/png');
  expect((await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
});
afterAll(() => server?.stop());

const auth = () => `Authorization: Zoho-oauthtoken ${server.devToken}\r\n`;
const photoPath = () => `/crm/v8/Leads/${record}/photo`;

/** The protocol refusal counters, `kind/status` → count. */
async function refusals(): Promise<Map<string, number>> {
  const text = (await http('GET', `${server.url}/metrics`)).text;
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^crm_media_protocol_refusals_total\{kind="([^"]+)",status="(\d+)"\} (\d+)$/gm)) out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  return out;
}

interface Case {
  name: string;
  bytes: () => string | Buffer;
  status: number;
  code: string;
  message: string;
  kind: string;
}

const INVALID_REQUEST = 'invalid request';
const cases: Case[] = [
  { name: 'HTTP/1.1 without Host', bytes: () => `GET ${photoPath()} HTTP/1.1\r\n${auth()}\r\n`, status: 400, code: 'INVALID_REQUEST', message: 'an HTTP/1.1 request needs a Host header', kind: 'host' },
  { name: 'an Expect other than 100-continue', bytes: () => `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}Expect: 200-ok\r\n\r\n`, status: 417, code: 'INVALID_REQUEST', message: 'the only expectation supported is 100-continue', kind: 'expect' },
  {
    name: 'an Expect other than 100-continue on an upload (the body is never read)',
    bytes: () => `POST ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10\r\nExpect: gzip\r\n\r\n`,
    status: 417,
    code: 'INVALID_REQUEST',
    message: 'the only expectation supported is 100-continue',
    kind: 'expect',
  },
  { name: 'an unknown method token', bytes: () => `FOO ${photoPath()} HTTP/1.1\r\nHost: x\r\n\r\n`, status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one', kind: 'method' },
  { name: 'CONNECT', bytes: () => 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n', status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one', kind: 'connect' },
  { name: 'a request target that is not a path', bytes: () => 'GET crm/v8/Leads HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, code: 'INVALID_URL_PATTERN', message: 'Please check if the URL trying to access is a correct one', kind: 'url' },
  { name: 'a NUL byte in the path', bytes: () => 'GET /crm/\0 HTTP/1.1\r\nHost: x\r\n\r\n', status: 404, code: 'INVALID_URL_PATTERN', message: 'Please check if the URL trying to access is a correct one', kind: 'url' },
  { name: 'an unknown HTTP version', bytes: () => `GET ${photoPath()} HTTP/7.5\r\nHost: x\r\n\r\n`, status: 505, code: 'INVALID_REQUEST', message: 'the HTTP version is not supported; use HTTP/1.1 or HTTP/1.0', kind: 'version' },
  { name: 'HTTP/2.0 in an HTTP/1 request line', bytes: () => `GET ${photoPath()} HTTP/2.0\r\nHost: x\r\n${auth()}\r\n`, status: 505, code: 'INVALID_REQUEST', message: 'the HTTP version is not supported; use HTTP/1.1 or HTTP/1.0', kind: 'version' },
  { name: 'an HTTP/0.9 request', bytes: () => `GET ${photoPath()}\r\n\r\n`, status: 505, code: 'INVALID_REQUEST', message: 'the HTTP version is not supported; use HTTP/1.1 or HTTP/1.0', kind: 'version' },
  { name: 'the HTTP/2 connection preface (h2c with prior knowledge)', bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 505, code: 'INVALID_REQUEST', message: 'the HTTP version is not supported; use HTTP/1.1 or HTTP/1.0', kind: 'version' },
  { name: 'a 20 KB header', bytes: () => `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'INVALID_REQUEST', message: 'the request line and headers are too large', kind: 'header_size' },
  { name: 'a 20 KB URL', bytes: () => `GET /crm/v8/Leads/${'1'.repeat(20_000)}/photo HTTP/1.1\r\nHost: x\r\n\r\n`, status: 431, code: 'INVALID_REQUEST', message: 'the request line and headers are too large', kind: 'header_size' },
  {
    name: 'more than 256 header fields',
    bytes: () => `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}${Array.from({ length: 300 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
    status: 431,
    code: 'INVALID_REQUEST',
    message: 'the request has too many header fields',
    kind: 'header_count',
  },
  {
    name: 'chunk extensions beyond 16 KB',
    bytes: () => `POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\nx\r\n0\r\n\r\n`,
    status: 413,
    code: 'INVALID_REQUEST',
    message: 'the chunk extensions are too large',
    kind: 'chunk_extensions',
  },
  { name: 'two Content-Length values', bytes: () => 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'framing' },
  { name: 'Content-Length and Transfer-Encoding together', bytes: () => 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'framing' },
  { name: 'chunked not the final transfer coding', bytes: () => 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n', status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'framing' },
  { name: 'a Content-Length that is not a number', bytes: () => 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n', status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'framing' },
  { name: 'bare LF line endings', bytes: () => `GET ${photoPath()} HTTP/1.1\nHost: x\n\n`, status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'malformed' },
  { name: 'an obsolete folded header line', bytes: () => `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n`, status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'malformed' },
  { name: 'whitespace before a header colon', bytes: () => `GET ${photoPath()} HTTP/1.1\r\nHost : x\r\n\r\n`, status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'malformed' },
  { name: 'binary junk', bytes: () => Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]), status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'malformed' },
  { name: 'a request line that is one word', bytes: () => 'GARBAGE\r\n\r\n', status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'malformed' },
  { name: 'a TLS ClientHello (https:// to the plain port)', bytes: () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST, kind: 'tls' },
];

function expectClosedRefusal(r: RawResult, c: Pick<Case, 'status' | 'code' | 'message'>): HttpResponse {
  expect(r.response, r.raw.toString('latin1').slice(0, 300)).toBeDefined();
  const res = r.response!;
  expectZohoError(res, { status: c.status, code: c.code, message: c.message, details: {} });
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
  expect(String(res.headers['connection']).toLowerCase()).toBe('close');
  expect(r.closed).toBe(true);
  // One answer only: nothing after the refusal's body.
  expect(r.raw.toString('latin1').match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  return res;
}

describe('refusals at the protocol level', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s → Zoho envelope, HTTP status, closed, counted', async (_name, c) => {
    const before = await refusals();
    const r = await rawExchange(server.url, (s) => write(s, c.bytes()));
    expectClosedRefusal(r, c);
    const after = await refusals();
    const key = `${c.kind}/${c.status}`;
    expect((after.get(key) ?? 0) - (before.get(key) ?? 0)).toBe(1);
  });

  it('headers that take longer than the request timeout → 408 within seconds, counted as timeout', async () => {
    const before = await refusals();
    const started = Date.now();
    const r = await rawExchange(
      server.url,
      async (s) => {
        await write(s, `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n`);
        // A trickle of header lines, never the blank line that ends them.
        for (let i = 0; i < 40 && !s.destroyed; i++) {
          await write(s, `X-Slow-${i}: y\r\n`).catch(() => {});
          await sleep(100);
        }
      },
      { timeoutMs: 10_000 },
    );
    expectClosedRefusal(r, { status: 408, code: 'INVALID_REQUEST', message: 'the request body did not arrive in time' });
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(((await refusals()).get('timeout/408') ?? 0) - (before.get('timeout/408') ?? 0)).toBe(1);
  });

  it('a head cut off by the client (FIN before the blank line) → a Zoho 400, or a clean close', async () => {
    const r = await rawExchange(server.url, async (s) => {
      await write(s, `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n`);
      s.end();
    });
    expect(r.closed).toBe(true);
    if (r.raw.length > 0) expectClosedRefusal(r, { status: 400, code: 'INVALID_REQUEST', message: INVALID_REQUEST });
  });

  it('the requests next to these limits are served: HTTP/1.0 without Host, Expect: 100-continue, 256 header fields, a 14 KB header', async () => {
    const ok = async (bytes: string) => {
      const r = await rawExchange(server.url, (s) => write(s, bytes), { until: 'response' });
      expect(r.response?.status, r.raw.toString('latin1').slice(0, 300)).toBe(200);
      expect(r.response!.body.equals(image)).toBe(true);
    };
    await ok(`GET ${photoPath()} HTTP/1.0\r\n${auth()}\r\n`);
    await ok(`GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}${Array.from({ length: 254 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`);
    await ok(`GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}X-Big: ${'a'.repeat(14_000)}\r\n\r\n`);
    // An upload that waits for 100 Continue before sending its body.
    const { body, contentType } = filePart(png(8, 8), 'c.png', 'image/png');
    const r = await rawExchange(
      server.url,
      async (s) => {
        await write(s, `POST ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
        await new Promise<void>((resolve) => s.once('data', () => resolve()));
        await write(s, body);
      },
    );
    expect(r.raw.toString('latin1')).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    const { body: again, contentType: type } = filePart(image, 'p.png', 'image/png');
    expect((await server.api('POST', photoPath(), { headers: { 'content-type': type }, body: again })).status).toBe(200);
  });

  it('a pipelined request after a good one that the parser refuses: the first answer arrives whole', async () => {
    const r = await rawExchange(server.url, (s) => write(s, `GET ${photoPath()} HTTP/1.1\r\nHost: x\r\n${auth()}\r\nGARBAGE / HTTP/1.1\r\n\r\n`));
    expect(r.closed).toBe(true);
    const [first, second, ...more] = responsesIn(r.raw).responses;
    expect(first?.status).toBe(200);
    expect(first!.body.equals(image)).toBe(true);
    expectZohoError(second!, { status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one', details: {} });
    expect(more).toEqual([]);
  });
});

/** Every complete response in `raw`, in order (Content-Length framed; what this server sends). */
function responsesIn(raw: Buffer): { responses: HttpResponse[]; rest: Buffer } {
  const responses: HttpResponse[] = [];
  let rest = raw;
  for (let i = 0; i < 100 && rest.length > 0; i++) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.subarray(0, end).toString('latin1');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    if (!status) break;
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (rest.length < end + 4 + length) break;
    const body = rest.subarray(end + 4, end + 4 + length);
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const c = line.indexOf(':');
      headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = undefined;
    }
    responses.push({ status: Number(status[1]), headers, body, text: body.toString('utf8'), json });
    rest = rest.subarray(end + 4 + length);
  }
  return { responses, rest };
}

/** What any answer to anything must be: Zoho's envelope for an error, JSON for the rest, no stack trace. */
function expectWellFormed(raw: Buffer, sent: Buffer): void {
  const { responses, rest } = responsesIn(raw);
  const context = `sent ${JSON.stringify(sent.toString('latin1').slice(0, 200))}, got ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`;
  expect(rest.length, context).toBe(0);
  for (const res of responses) {
    expect(res.text, context).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/src\/|Error:|FST_|HPE_/);
    if (res.status >= 400) {
      expect(res.headers['content-type'], context).toBe('application/json;charset=UTF-8');
      expect(Object.keys(res.json ?? {}).sort(), context).toEqual(['code', 'details', 'message', 'status']);
      expect(res.json.status, context).toBe('error');
    }
  }
}

const TOKENS = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD', ' ', '/', '\r\n', '\n', '\r', ':', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'Host: x', 'Content-Length: ', 'Transfer-Encoding: chunked', 'Expect: ', '100-continue', '0', '5', 'ff', ';', '\0', '%', '?', '#', '\t', 'crm/v8/Leads', 'photo', 'Attachments', '\u00e9', '\u{1F600}'];

describe('random bytes on the socket (property)', () => {
  const template = () =>
    `POST /crm/v8/Leads/${record}/Attachments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 60\r\n\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n`;

  const exchange = async (bytes: Buffer) => {
    const r = await rawExchange(
      server.url,
      async (s) => {
        await write(s, bytes);
        s.end();
      },
      { timeoutMs: 5_000 },
    );
    // A clean close or answers; never a connection left hanging past the bound.
    expect(r.timedOut, `sent ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`).toBe(false);
    expectWellFormed(r.raw, bytes);
  };

  it('arbitrary bytes: a Zoho-shaped answer or a clean close', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => exchange(Buffer.from(bytes))), { numRuns: 150 });
  });

  it('HTTP-ish token soup: a Zoho-shaped answer or a clean close', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 40 }), async (parts) => exchange(Buffer.from(parts.join(''), 'utf8'))),
      { numRuns: 200 },
    );
  });

  it('a request head with bytes inserted, deleted or replaced: a Zoho-shaped answer or a clean close', async () => {
    const mutation = fc.record({
      at: fc.nat(),
      remove: fc.nat({ max: 8 }),
      insert: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constantFrom(...TOKENS).map((t) => Buffer.from(t, 'utf8'))),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        let bytes = Buffer.from(template(), 'latin1');
        for (const m of mutations) {
          const at = m.at % (bytes.length + 1);
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.insert), bytes.subarray(Math.min(bytes.length, at + m.remove))]);
        }
        await exchange(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('the server still serves after all of it', async () => {
    const res = await server.api('GET', photoPath());
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
    expect((await http('GET', `${server.url}/healthz`)).status).toBe(200);
  });
});
