/**
 * A battery of bad requests: odd paths, odd methods, malformed HTTP sent over raw sockets, broken multipart
 * framing, lying lengths, aborted and slow uploads. Each is answered with a Zoho-shaped JSON error (or, where the
 * client itself hung up, nothing), and afterwards the server still serves the same photo and nothing changed.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { png, pngHeaderOnly } from '../helpers/images.js';
import { filePart, multipart } from '../helpers/multipart.js';
import { rawExchange, write } from '../helpers/robustness.js';
import { type HttpResponse, TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const INVALID_REQUEST_BODY = { code: 'INVALID_REQUEST', details: {}, message: 'invalid request', status: 'error' };
const MULTIPART_EXPECTED = { expected_type: 'Multipart Form Request' };

let server: TestServer;
let record = '';
let image: Buffer;
let baselineBlobs: string[] = [];
let baselineLeads = 0;

async function leadCount(): Promise<number> {
  return (await server.admin('GET', `/orgs/${server.orgId}/records?module=Leads&limit=1000`)).records.length;
}

beforeAll(async () => {
  server = await TestServer.start({ shutdownTimeoutMs: 1_000 });
  record = await server.createRecord('Leads');
  image = png(48, 32);
  const { body, contentType } = filePart(image, 'original.png', 'image/png');
  const res = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body });
  expect(res.status).toBe(200);
  baselineBlobs = await server.blobFiles();
  baselineLeads = await leadCount();
});
afterAll(() => server?.stop());

/** Polls (bounded) until `check` holds; cleanup after an aborted upload may finish just after the client left. */
async function settle(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check()) && Date.now() < until) await sleep(50);
}

// After every bad request: the server still answers a normal GET with the same bytes, and nothing changed.
afterEach(async () => {
  await settle(async () => (await server.tempFiles()).length === 0 && (await server.blobFiles()).length === baselineBlobs.length);
  try {
    const photo = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(photo.status).toBe(200);
    expect(photo.body.equals(image)).toBe(true);
    expect(photo.headers['content-disposition']).toBe('attachment; filename="original.png"');
    expect(await server.blobFiles()).toEqual(baselineBlobs);
    expect(await server.tempFiles()).toEqual([]);
    expect(await leadCount()).toBe(baselineLeads);
  } finally {
    // A leak fails the test that caused it, not every test after it.
    for (const f of await server.tempFiles()) await unlink(join(server.dataDir, 'tmp', f)).catch(() => {});
    baselineBlobs = await server.blobFiles();
  }
});

/** A reply that is at least Zoho's error envelope in JSON. */
function expectZohoEnvelope(res: HttpResponse | undefined, raw?: Buffer): void {
  expect(res, raw?.toString('latin1')).toBeDefined();
  expect(res!.headers['content-type']).toMatch(/^application\/json/);
  expect(res!.json).toMatchObject({ status: 'error' });
  expect(Object.keys(res!.json).sort()).toEqual(['code', 'details', 'message', 'status']);
  expect(res!.text).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules|\/src\/|Error:|FST_/);
}

function head(method: string, path: string, extra = ''): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Zoho-oauthtoken ${server.devToken}\r\n${extra}`;
}

describe('odd paths', () => {
  it.each([
    ['invalid percent-encoding in the module', () => '/crm/v8/Le%ZZads/1/photo'],
    ['invalid percent-encoding in the record id', () => `/crm/v8/Leads/%ZZ${record}/photo`],
    ['a truncated percent-escape', () => '/crm/v8/Leads/1/photo%'],
    ['an overlong UTF-8 escape', () => '/crm/v8/Leads%C0%AF/1/photo'],
  ])('%s → INVALID_URL_PATTERN 404 in Zoho\'s envelope', async (_name, path) => {
    const res = await server.api('GET', path());
    expectZohoError(res, {
      status: 404,
      code: 'INVALID_URL_PATTERN',
      message: 'Please check if the URL trying to access is a correct one',
      details: {},
    });
  });

  it.each([
    ['/crm/'],
    ['/crm/v8'],
    ['/crm/v8/'],
    ['//crm//v8'],
    ['/crm'],
    ['/'],
    ['/crm/v9/Leads/1/photo'],
    ['/crm/v8/Leads/1/photo/extra'],
    ['/crm/v8/Leads/1/notes'],
    ['/crm/v8/Leads//photo'],
    ['/CRM/v8/Leads/1/photo'],
    [`/crm/v8/${'A'.repeat(5_000)}/1/photo`],
    [`/crm/v8/Leads/${'9'.repeat(3_000)}/photo/${'x'.repeat(3_000)}`],
  ])('GET %s → INVALID_URL_PATTERN 404', async (path) => {
    const res = await server.api('GET', path);
    expectZohoError(res, { status: 404, code: 'INVALID_URL_PATTERN', details: {} });
  });

  it.each([
    ['a NUL byte as record id', '/crm/v8/Leads/%00/photo'],
    ['a very long record id', `/crm/v8/Leads/${'1'.repeat(150)}/photo`],
    ['a negative record id', '/crm/v8/Leads/-1/photo'],
  ])('%s → INVALID_DATA', async (_name, path) => {
    expectZohoError(await server.api('GET', path), { status: 400, code: 'INVALID_DATA', message: 'the id given seems to be invalid' });
  });

  it('repeated query parameters: a bad restrict_triggers repeated → INVALID_DATA, body unread', async () => {
    const { body, contentType } = filePart(png(5, 5), 'x.png', 'image/png');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/photo?restrict_triggers=x&restrict_triggers=y&restrict_triggers=z`, {
      headers: { 'content-type': contentType },
      body,
    });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA', details: { param_name: 'restrict_triggers', expected_value: 'workflow' } });
  });

  it('repeated query parameters: ids=…&ids=… on a records delete → per-item errors, JSON', async () => {
    const res = await server.api('DELETE', '/crm/v8/Leads?ids=bad1&ids=bad2&ids=bad3');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // The first value of a repeated parameter counts.
    expect(res.json.data).toHaveLength(1);
    expect(res.json.data[0]).toMatchObject({ code: 'INVALID_DATA', status: 'error', details: { id: 'bad1' } });
  });

  it('hundreds of repeated junk parameters and a long query string do not disturb a GET', async () => {
    const junk = Array.from({ length: 500 }, (_, i) => `a=${i}`).join('&');
    const res = await server.api('GET', `/crm/v8/Leads/${record}/photo?${junk}&b=${'z'.repeat(4_000)}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
  });
});

describe('odd methods', () => {
  const paths = () => [
    `/crm/v8/Leads/${record}/photo`,
    `/crm/v8/Leads/${record}/Attachments`,
    `/crm/v8/Leads/${record}/Attachments/1234567890123456789`,
    `/crm/v8/Leads/${record}`,
  ];

  it.each(['OPTIONS', 'TRACE', 'PUT', 'PATCH'])('%s on /crm paths → INVALID_REQUEST_METHOD 400', async (method) => {
    for (const path of paths()) {
      const r = await rawExchange(server.url, (s) => write(s, `${head(method, path)}Connection: close\r\n\r\n`), { until: 'response' });
      expectZohoError(r.response!, {
        status: 400,
        code: 'INVALID_REQUEST_METHOD',
        message: 'The http request method type is not a valid one',
        details: {},
      });
    }
  });

  it('methods Node parses but the router does not serve (PROPFIND, SEARCH, COPY, MKCOL) → INVALID_REQUEST_METHOD 400', async () => {
    // docs/compatibility.md: URL shape is checked before the method, and any method outside the list is
    // INVALID_REQUEST_METHOD; the URL here is a valid photo URL.
    const answers: Record<string, string> = {};
    for (const method of ['PROPFIND', 'SEARCH', 'COPY', 'MKCOL']) {
      const r = await rawExchange(server.url, (s) => write(s, `${head(method, `/crm/v8/Leads/${record}/photo`)}Connection: close\r\n\r\n`), {
        until: 'response',
      });
      expectZohoEnvelope(r.response, r.raw);
      answers[method] = `${r.response!.status} ${r.response!.json.code}`;
    }
    expect(answers).toEqual({
      PROPFIND: '400 INVALID_REQUEST_METHOD',
      SEARCH: '400 INVALID_REQUEST_METHOD',
      COPY: '400 INVALID_REQUEST_METHOD',
      MKCOL: '400 INVALID_REQUEST_METHOD',
    });
  });

  it('OPTIONS without Authorization (a CORS preflight) → AUTHENTICATION_FAILURE (authentication is checked first)', async () => {
    const r = await rawExchange(
      server.url,
      (s) =>
        write(
          s,
          `OPTIONS /crm/v8/Leads/${record}/photo HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://example.test\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n`,
        ),
      { until: 'response' },
    );
    expectZohoError(r.response!, { status: 401, code: 'AUTHENTICATION_FAILURE', message: 'Authentication failed' });
  });

  it('an unknown method token (FOO) in a well-formed request line → 400 INVALID_REQUEST_METHOD, closed', async () => {
    const r = await rawExchange(server.url, (s) => write(s, `${head('FOO', `/crm/v8/Leads/${record}/photo`)}\r\n`));
    expect(r.closed).toBe(true);
    expect(r.response?.status).toBe(400);
    expect(r.response?.json).toEqual({ code: 'INVALID_REQUEST_METHOD', details: {}, message: 'The http request method type is not a valid one', status: 'error' });
  });

  it('CONNECT: the server survives (and any answer is Zoho-shaped)', async () => {
    const r = await rawExchange(server.url, (s) => write(s, `CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`), { timeoutMs: 3_000 });
    if (r.raw.length > 0) expectZohoEnvelope(r.response, r.raw);
  });
});

describe('malformed HTTP over a raw socket', () => {
  it.each([
    ['an unparseable request line', 'GARBAGE\r\n\r\n'],
    ['binary junk', Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a])],
    ['spaces in the request target', 'GET /crm/v8/Leads/1 2 3/photo HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a header line without a colon', 'GET /crm/v8/Leads/1/photo HTTP/1.1\r\nHost: x\r\nThis is not a header\r\n\r\n'],
    ['a header name with a space', 'GET /crm/v8/Leads/1/photo HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
    ['two Content-Length values that disagree', 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'],
    ['Content-Length and Transfer-Encoding together', 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a non-numeric Content-Length', 'POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n'],
  ])('%s → 400 with the Zoho INVALID_REQUEST body, connection closed', async (_name, bytes) => {
    const r = await rawExchange(server.url, (s) => write(s, bytes));
    expect(r.closed).toBe(true);
    expect(r.response, r.raw.toString('latin1')).toBeDefined();
    expect(r.response!.status).toBe(400);
    expect(r.response!.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(r.response!.json).toEqual(INVALID_REQUEST_BODY);
    expect(r.raw.toString('latin1')).not.toMatch(/Error:|\bat .+:\d+:\d+/);
  });

  it('a 50 KB header → 431 or a Zoho error; the server survives', async () => {
    const r = await rawExchange(server.url, (s) =>
      write(s, `${head('GET', `/crm/v8/Leads/${record}/photo`)}X-Big: ${'a'.repeat(50_000)}\r\n\r\n`),
    );
    expect(r.response, r.raw.toString('latin1').slice(0, 300)).toBeDefined();
    if (r.response!.status !== 431) {
      expectZohoEnvelope(r.response);
      expect(r.response!.status).toBe(400);
    }
  });

  it('100 header lines of 1 KB each → 431 or a Zoho error; the server survives', async () => {
    const many = Array.from({ length: 100 }, (_, i) => `X-H${i}: ${'b'.repeat(1_000)}\r\n`).join('');
    const r = await rawExchange(server.url, (s) => write(s, `${head('GET', `/crm/v8/Leads/${record}/photo`)}${many}\r\n`));
    expect(r.response).toBeDefined();
    if (r.response!.status !== 431) expectZohoEnvelope(r.response);
  });

  it('Transfer-Encoding: chunked with garbage chunk sizes → 400 Zoho error', async () => {
    const { contentType } = filePart(image);
    const r = await rawExchange(server.url, (s) =>
      write(s, `${head('POST', `/crm/v8/Leads/${record}/photo`)}Content-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\nzzz\r\nhello\r\n0\r\n\r\n`),
    );
    expect(r.response, r.raw.toString('latin1')).toBeDefined();
    expect(r.response!.status).toBe(400);
    expectZohoEnvelope(r.response);
  });

  it('Transfer-Encoding: chunked, valid start, then a garbage chunk in the middle of a file → 400 Zoho error', async () => {
    const { body, contentType } = filePart(png(30, 30), 'mid.png', 'image/png');
    const r = await rawExchange(server.url, async (s) => {
      await write(s, `${head('POST', `/crm/v8/Leads/${record}/photo`)}Content-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const first = body.subarray(0, 200);
      await write(s, Buffer.concat([Buffer.from(`${first.length.toString(16)}\r\n`), first, Buffer.from('\r\n')]));
      await sleep(30);
      await write(s, 'not-hex\r\nxx\r\n');
    });
    if (r.response) {
      expect(r.response.status).toBe(400);
      expectZohoEnvelope(r.response);
    }
    expect(r.closed).toBe(true);
  });

  it('a body that declares a larger Content-Length than sent, then the client closes: no trace left', async () => {
    const { body, contentType } = filePart(png(64, 64), 'short.png', 'image/png');
    const r = await rawExchange(
      server.url,
      async (s) => {
        await write(s, `${head('POST', `/crm/v8/Leads/${record}/photo`)}Content-Type: ${contentType}\r\nContent-Length: ${body.length + 100_000}\r\n\r\n`);
        await write(s, body);
        await sleep(50);
        s.end();
      },
      { timeoutMs: 5_000 },
    );
    // The client half-closed: any answer is Zoho-shaped; none is fine too.
    if (r.response) expectZohoEnvelope(r.response);
  });

  it('the same, with the client resetting the connection instead', async () => {
    const { body, contentType } = filePart(png(64, 64), 'reset.png', 'image/png');
    await rawExchange(
      server.url,
      async (s) => {
        await write(s, `${head('POST', `/crm/v8/Leads/${record}/Attachments`)}Content-Type: ${contentType}\r\nContent-Length: ${body.length + 100_000}\r\n\r\n`);
        await write(s, body);
        await sleep(50);
        s.resetAndDestroy();
      },
      { timeoutMs: 2_000 },
    );
  });
});

describe('broken multipart', () => {
  const upload = (path: string, contentType: string, body: Buffer | string) =>
    server.api('POST', path, { headers: { 'content-type': contentType }, body });

  it.each([
    ['no boundary parameter', 'multipart/form-data'],
    ['an empty boundary', 'multipart/form-data; boundary='],
    ['a boundary that does not match the body', 'multipart/form-data; boundary=somethingelse'],
  ])('%s → INVALID_REQUEST {expected_type}', async (_name, contentType) => {
    const m = multipart([{ name: 'file', filename: 'a.png', contentType: 'image/png', data: png(9, 9) }], 'theRealBoundary');
    for (const path of [`/crm/v8/Leads/${record}/photo`, `/crm/v8/Leads/${record}/Attachments`]) {
      expectZohoError(await upload(path, contentType, m.body), { status: 400, code: 'INVALID_REQUEST', details: MULTIPART_EXPECTED });
    }
  });

  it('a body cut off before the closing boundary → INVALID_REQUEST (a photo may be refused as an invalid image first)', async () => {
    const att = multipart([{ name: 'file', filename: 'a.txt', contentType: 'text/plain', data: 'cut off' }]);
    const attCut = att.body.subarray(0, att.body.length - 12);
    expectZohoError(await upload(`/crm/v8/Leads/${record}/Attachments`, att.contentType, attCut), {
      status: 400,
      code: 'INVALID_REQUEST',
      details: MULTIPART_EXPECTED,
    });
    const photo = multipart([{ name: 'file', filename: 'a.png', contentType: 'image/png', data: png(20, 20) }]);
    for (const cut of [photo.body.subarray(0, photo.body.length - 12), photo.body.subarray(0, photo.body.length - 60)]) {
      const res = await upload(`/crm/v8/Leads/${record}/photo`, photo.contentType, cut);
      expect(res.status).toBe(400);
      expectZohoEnvelope(res);
      expect([`INVALID_REQUEST ${JSON.stringify(MULTIPART_EXPECTED)}`, 'INVALID_DATA {}']).toContain(`${res.json.code} ${JSON.stringify(res.json.details)}`);
    }
  });

  it('a part without Content-Disposition, and a body of pure noise → a Zoho error', async () => {
    const noPartHeaders = Buffer.from('--b\r\n\r\nhello\r\n--b--\r\n');
    for (const body of [noPartHeaders, Buffer.alloc(2_000, 0x2d)]) {
      const res = await upload(`/crm/v8/Leads/${record}/photo`, 'multipart/form-data; boundary=b', body);
      expect(res.status).toBe(400);
      expectZohoEnvelope(res);
      expect(['INVALID_REQUEST', 'INVALID_DATA']).toContain(res.json.code);
    }
  });

  it('30 concurrent bad uploads: each its own Zoho error, nothing stored', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    const kinds = [
      // [path suffix, content type, body, expected code, expected message]
      () => ({ ...filePart(Buffer.from('not an image at all'), 'x.png', 'image/png'), code: 'INVALID_DATA', message: 'The image format is invalid.' }),
      () => ({ ...filePart(svg, 'x.png', 'image/png'), code: 'INVALID_DATA', message: 'The image format is invalid.' }),
      () => ({ ...filePart(pngHeaderOnly(10, 10), 'trunc.png', 'image/png'), code: 'INVALID_DATA', message: 'The image format is invalid.' }),
      () => ({ ...filePart(Buffer.alloc(0), 'empty.png', 'image/png'), code: 'INVALID_DATA', message: 'The image format is invalid.' }),
      () => ({
        ...multipart([{ name: 'notfile', filename: 'a.png', contentType: 'image/png', data: png(3, 3) }]),
        code: 'INVALID_DATA',
        message: 'The request does not contain any file',
      }),
      () => ({
        ...multipart([
          { name: 'file', filename: 'a.png', contentType: 'image/png', data: png(3, 3) },
          { name: 'file', filename: 'b.png', contentType: 'image/png', data: png(3, 3) },
        ]),
        code: 'INVALID_DATA',
        message: 'The request contains more than one file',
      }),
      () => ({ contentType: 'application/json', body: Buffer.from('{"file":"x"}'), code: 'INVALID_REQUEST', message: 'invalid request' }),
      () => ({ contentType: 'multipart/form-data', body: png(3, 3), code: 'INVALID_REQUEST', message: 'invalid request' }),
    ];
    // A few rounds: what a rejected upload leaves behind (a temp file) shows up only under some interleavings.
    const leftovers: string[][] = [];
    for (let round = 0; round < 4; round++) {
      const requests = Array.from({ length: 30 }, (_, i) => {
        const k = kinds[i % kinds.length]!();
        return server
          .api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': k.contentType }, body: k.body })
          .then((res) => ({ res, k }));
      });
      for (const { res, k } of await Promise.all(requests)) expectZohoError(res, { status: 400, code: k.code, message: k.message });
      // Every response is out: the request's own cleanup is done.
      await settle(async () => (await server.tempFiles()).length === 0, 1_000);
      leftovers.push(await server.tempFiles());
    }
    expect(leftovers).toEqual([[], [], [], []]);
    expect(await server.blobFiles()).toEqual(baselineBlobs);
  });
});

describe('slow and aborted uploads', () => {
  it('a slowloris-style partial upload aborted by the client leaves nothing; the server keeps answering meanwhile', async () => {
    const boundary = 'slowloris';
    const big = png(400, 300);
    let meanwhile: HttpResponse | undefined;
    let tempDuring: string[] = [];
    const result = await rawExchange(
      server.url,
      async (s) => {
        await write(
          s,
          `${head('POST', `/crm/v8/Leads/${record}/photo`)}Content-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\n\r\n`,
        );
        const partHead = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.png"\r\nContent-Type: image/png\r\n\r\n`);
        const pieces = [partHead, big.subarray(0, 40), big.subarray(40, 80), big.subarray(80, 81), big.subarray(81, 200)];
        for (const p of pieces) {
          await write(s, Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]));
          await sleep(60);
        }
        tempDuring = await server.tempFiles();
        meanwhile = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
        s.destroy();
      },
      { timeoutMs: 3_000 },
    );
    expect(result.sendError).toBeUndefined();
    expect(result.response).toBeUndefined();
    expect(meanwhile?.status).toBe(200);
    expect(meanwhile?.body.equals(image)).toBe(true);
    // On disk the upload was being written when the client left (so "nothing left" below means cleaned up).
    if (server.backend.name === 'sqlite-disk') expect(tempDuring.length).toBeGreaterThan(0);
  });

  it('several slow uploads at once, all abandoned half-way: no temp file or blob is left', async () => {
    const runs = Array.from({ length: 5 }, (_, i) =>
      rawExchange(
        server.url,
        async (s) => {
          const { body, contentType } = filePart(png(100 + i, 100), `s${i}.png`, 'image/png');
          const target = `/crm/v8/Leads/${record}/${i % 2 ? 'Attachments' : 'photo'}`;
          await write(s, `${head('POST', target)}Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
          for (let off = 0; off < body.length / 2; off += 50) {
            await write(s, body.subarray(off, Math.min(off + 50, body.length)));
            await sleep(10);
          }
          s.destroy();
        },
        { timeoutMs: 3_000 },
      ),
    );
    for (const r of await Promise.all(runs)) {
      expect(r.sendError).toBeUndefined();
      expect(r.response).toBeUndefined();
    }
  });
});

describe('authorization header oddities', () => {
  it.each([
    ['the scheme alone', 'Zoho-oauthtoken'],
    ['two tokens', 'Zoho-oauthtoken a b'],
    ['an 8 KB token', `Zoho-oauthtoken ${'x'.repeat(8_000)}`],
    ['Bearer', 'Bearer 1000.abc.def'],
    ['a control character', 'Zoho-oauthtoken abc\u0001def'],
  ])('%s → 401 Zoho error', async (_name, value) => {
    let res: HttpResponse;
    try {
      res = await http('GET', `${server.url}/crm/v8/Leads/${record}/photo`, { headers: { authorization: value } });
    } catch {
      // The client refused to send the header: nothing to check on the server side but that it survives.
      return;
    }
    expect(res.status).toBe(401);
    expectZohoEnvelope(res);
    expect(['AUTHENTICATION_FAILURE', 'INVALID_TOKEN']).toContain(res.json.code);
  });
});
