/**
 * GET …/Attachments/{attachment_id} over real HTTP (docs/compatibility.md "Download an attachment"): exact bytes,
 * Content-Disposition with the stored name (non-ASCII too), Content-Length, nosniff, the Content-Type rule (types
 * the SDKs download as files are kept, anything else is application/octet-stream), links as 204 + Location, bad
 * attachment ids, HEAD. Then, for both downloads (photo and attachment), table-driven: ETag/If-None-Match, Range
 * (206/416/whole), If-Range ("Both downloads" section).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pad, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const LINK = 'https://www.zohocorp.com/some/page?x=1&y=2';

let server: TestServer;
let record: string;
let otherRecord: string;

const binary = randomBytes(300 * 1024);
const text = Buffer.from('Plain text attachment\nline two\n'.repeat(20));
const image = pad(png(16, 16), 4096);
const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2000), Buffer.from('\n%%EOF\n')]);
const json = Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] }));

interface Stored {
  id: string;
  bytes: Buffer;
}
const files: Record<string, Stored> = {};
let linkId: string;
let otherRecordFile: string;

function attachmentsPath(rec: string, module = 'Leads', version = 'v8'): string {
  return `/crm/${version}/${module}/${rec}/Attachments`;
}

async function upload(rec: string, data: Buffer, name: string, type: string): Promise<string> {
  const b = filePart(data, name, type);
  const res = await server.api('POST', attachmentsPath(rec), { headers: { 'content-type': b.contentType }, body: b.body });
  expect(res.status, res.text).toBe(200);
  return res.json.data[0].details.id as string;
}

function get(rec: string, id: string, opts: { method?: string; headers?: Record<string, string>; token?: string; version?: string } = {}) {
  return server.api(opts.method ?? 'GET', `${attachmentsPath(rec, 'Leads', opts.version)}/${id}`, {
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.token ? { token: opts.token } : {}),
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const invalidId = (id: string) => ({
  status: 400,
  code: 'INVALID_DATA',
  message: 'the id given seems to be invalid',
  details: { id, resource_path_index: 3 },
});

function expectFile(res: HttpResponse, bytes: Buffer, type: string, disposition: string): void {
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.headers['content-length']).toBe(String(bytes.length));
  expect(res.headers['content-disposition']).toBe(disposition);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['accept-ranges']).toBe('bytes');
  expect(res.headers['etag']).toBe(`"${sha256(bytes)}"`);
  expect(res.body.length).toBe(bytes.length);
  expect(res.body.equals(bytes)).toBe(true);
}

beforeAll(async () => {
  // With content hashing on, the ETag is the bytes' SHA-256 (photos.test.ts covers the default, key-based ETag).
  server = await TestServer.start({ contentHash: 'sha256' });
  record = await server.createRecord('Leads', server.devToken, { First_Name: 'Patricia', Last_Name: 'Boyle' });
  otherRecord = await server.createRecord('Leads', server.devToken, { Last_Name: 'Other' });
  files['binary'] = { id: await upload(record, binary, 'data.bin', 'application/octet-stream'), bytes: binary };
  files['text'] = { id: await upload(record, text, 'notes.txt', 'text/plain'), bytes: text };
  files['png'] = { id: await upload(record, image, 'picture.png', 'image/png'), bytes: image };
  files['pdf'] = { id: await upload(record, pdf, 'report.pdf', 'application/pdf'), bytes: pdf };
  files['json'] = { id: await upload(record, json, 'data.json', 'application/json'), bytes: json };
  files['pngByExtension'] = { id: await upload(record, image, 'guessed.png', 'application/octet-stream'), bytes: image };
  files['cyrillic'] = { id: await upload(record, text, 'отчёт.txt', 'text/plain'), bytes: text };
  files['accented'] = { id: await upload(record, pdf, 'résumé été.pdf', 'application/pdf'), bytes: pdf };
  const link = await server.api('POST', attachmentsPath(record), { query: { attachmentUrl: LINK } });
  expect(link.status, link.text).toBe(200);
  linkId = link.json.data[0].details.id;
  otherRecordFile = await upload(otherRecord, text, 'elsewhere.txt', 'text/plain');
});
afterAll(() => server?.stop());

describe(`attachment download (${BACKEND})`, () => {
  it('binary (300 KB of random bytes): exact bytes and headers', async () => {
    expectFile(await get(record, files['binary']!.id), binary, 'application/octet-stream', 'attachment; filename="data.bin"');
  });

  it('text: exact bytes, served as application/octet-stream with the name keeping its extension', async () => {
    expectFile(await get(record, files['text']!.id), text, 'application/octet-stream', 'attachment; filename="notes.txt"');
  });

  it.each([
    ['png', 'image/png', 'attachment; filename="picture.png"'],
    ['pdf', 'application/pdf', 'attachment; filename="report.pdf"'],
    ['json', 'application/octet-stream', 'attachment; filename="data.json"'],
    ['pngByExtension', 'image/png', 'attachment; filename="guessed.png"'],
  ])('Content-Type rule: %s → %s', async (key, type, disposition) => {
    expectFile(await get(record, files[key]!.id), files[key]!.bytes, type, disposition);
  });

  it.each([
    ['cyrillic', 'application/octet-stream', `attachment; filename="_____.txt"; filename*=UTF-8''${encodeURIComponent('отчёт')}.txt`],
    ['accented', 'application/pdf', `attachment; filename="r_sum_ _t_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.pdf`],
  ])('non-ASCII stored name (%s): ASCII fallback plus RFC 5987 filename*', async (key, type, disposition) => {
    expectFile(await get(record, files[key]!.id), files[key]!.bytes, type, disposition);
  });

  it('the same download works in every API version and with module/segment names in any case', async () => {
    for (const v of ['v2', 'v2.1', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']) {
      const res = await get(record, files['png']!.id, { version: v });
      expect(res.status, `${v}: ${res.text.slice(0, 200)}`).toBe(200);
      expect(res.body.equals(image)).toBe(true);
    }
    const res = await server.api('GET', `/crm/v8/leads/${record}/attachments/${files['png']!.id}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
  });

  it('a link attachment → 204 with Location = the link and no body', async () => {
    const res = await get(record, linkId);
    expect(res.status, res.text).toBe(204);
    expect(res.headers['location']).toBe(LINK);
    expect(res.body.length).toBe(0);
  });

  it.each([
    ['unknown', '1234567890123456789'],
    ['malformed', 'abc'],
    ['too long', '12345678901234567890'],
  ])('%s attachment id → INVALID_DATA {id, resource_path_index: 3}', async (_name, id) => {
    expectZohoError(await get(record, id), invalidId(id));
  });

  it("another record's attachment id → INVALID_DATA, and it still downloads from its own record", async () => {
    expectZohoError(await get(record, otherRecordFile), invalidId(otherRecordFile));
    expectZohoError(await get(otherRecord, files['binary']!.id), invalidId(files['binary']!.id));
    const own = await get(otherRecord, otherRecordFile);
    expect(own.status).toBe(200);
    expect(own.body.equals(text)).toBe(true);
  });

  it("another org's token → INVALID_DATA related id (the record is not in its org)", async () => {
    const other = await server.createOrg();
    expectZohoError(await get(record, files['png']!.id, { token: other.adminToken }), {
      status: 400,
      code: 'INVALID_DATA',
      message: 'the related id given seems to be invalid',
      details: { related_status: 'invalid', resource_path_index: 1 },
    });
  });

  it('scope: module READ and attachments READ are both needed', async () => {
    const moduleOnly = await server.createUser({ scopes: 'ZohoCRM.modules.leads.READ' });
    expectZohoError(await get(record, files['png']!.id, { token: moduleOnly.token }), { status: 401, code: 'OAUTH_SCOPE_MISMATCH' });
    const both = await server.createUser({ scopes: 'ZohoCRM.modules.leads.READ,ZohoCRM.modules.attachments.READ' });
    const ok = await get(record, files['png']!.id, { token: both.token });
    expect(ok.status).toBe(200);
    expect(ok.body.equals(image)).toBe(true);
  });

  it('without view permission → NO_PERMISSION {permissions: ["Leads.view"]}', async () => {
    const user = await server.createUser({ scopes: 'ZohoCRM.modules.ALL', permissions: { Leads: { view: false, edit: true } } });
    expectZohoError(await get(record, files['png']!.id, { token: user.token }), {
      status: 403,
      code: 'NO_PERMISSION',
      details: { permissions: ['Leads.view'] },
    });
  });

  it('HEAD: the download headers, no body', async () => {
    const res = await get(record, files['binary']!.id, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe(String(binary.length));
    expect(res.headers['content-disposition']).toBe('attachment; filename="data.bin"');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['etag']).toBe(`"${sha256(binary)}"`);
    expect(res.body.length).toBe(0);
    const link = await get(record, linkId, { method: 'HEAD' });
    expect(link.status).toBe(204);
    expect(link.headers['location']).toBe(LINK);
    // The server still serves the full body afterwards.
    expectFile(await get(record, files['binary']!.id), binary, 'application/octet-stream', 'attachment; filename="data.bin"');
  });

  it('PUT/PATCH/POST on an attachment id → INVALID_REQUEST_METHOD', async () => {
    for (const method of ['PUT', 'PATCH', 'POST']) {
      expectZohoError(await get(record, files['png']!.id, { method }), {
        status: 400,
        code: 'INVALID_REQUEST_METHOD',
        message: 'The http request method type is not a valid one',
      });
    }
  });
});

/** One downloadable thing: its path and its bytes. */
interface Target {
  name: string;
  path: () => string;
  bytes: () => Buffer;
}

let photoRecord: string;
const photoBytes = pad(png(24, 24), 5000);

const TARGETS: Target[] = [
  { name: 'photo', path: () => `/crm/v8/Leads/${photoRecord}/photo`, bytes: () => photoBytes },
  { name: 'attachment', path: () => `${attachmentsPath(record)}/${files['binary']!.id}`, bytes: () => binary },
];

describe.each(TARGETS)(`both downloads: $name (${BACKEND})`, (target) => {
  beforeAll(async () => {
    if (target.name !== 'photo' || photoRecord) return;
    photoRecord = await server.createRecord('Leads', server.devToken, { Last_Name: 'Photo' });
    const b = filePart(photoBytes, 'face.png', 'image/png');
    const res = await server.api('POST', `/crm/v8/Leads/${photoRecord}/photo`, { headers: { 'content-type': b.contentType }, body: b.body });
    expect(res.status, res.text).toBe(200);
  });

  const fetchIt = (headers: Record<string, string> = {}, method = 'GET') => server.api(method, target.path(), { headers });
  const etag = () => `"${sha256(target.bytes())}"`;

  it('ETag is the quoted sha256 hex of the bytes; Accept-Ranges: bytes', async () => {
    const res = await fetchIt();
    expect(res.status).toBe(200);
    expect(res.headers['etag']).toBe(etag());
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.body.equals(target.bytes())).toBe(true);
  });

  it.each([
    ['the ETag', (e: string) => e],
    ['a list containing it', (e: string) => `"0000", ${e}, "ffff"`],
    ['*', () => '*'],
    ['its weak form', (e: string) => `W/${e}`],
  ])('If-None-Match with %s → 304 without a body', async (_name, header) => {
    const res = await fetchIt({ 'if-none-match': header(etag()) });
    expect(res.status, res.text.slice(0, 200)).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers['etag']).toBe(etag());
  });

  it('If-None-Match with another tag → 200 with the bytes', async () => {
    const res = await fetchIt({ 'if-none-match': '"something-else"' });
    expect(res.status).toBe(200);
    expect(res.body.equals(target.bytes())).toBe(true);
  });

  const partialCases: Array<[string, (size: number) => [number, number]]> = [
    ['bytes=0-9', () => [0, 9]],
    ['bytes=10-', (size) => [10, size - 1]],
    ['bytes=-5', (size) => [size - 5, size - 1]],
    ['bytes=5-5', () => [5, 5]],
    ['bytes=0-99999999', (size) => [0, size - 1]],
    ['bytes=-99999999', (size) => [0, size - 1]],
    ['BYTES = 3 - 7', () => [3, 7]],
  ];
  it.each(partialCases)('Range %s → 206 with Content-Range and exactly those bytes', async (range, expected) => {
    const bytes = target.bytes();
    const [start, end] = expected(bytes.length);
    const res = await fetchIt({ range });
    expect(res.status, res.text.slice(0, 200)).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${bytes.length}`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(res.headers['etag']).toBe(etag());
    expect(res.body.equals(bytes.subarray(start, end + 1))).toBe(true);
  });

  it.each([
    ['starting at the size', (size: number) => `bytes=${size}-`],
    ['starting past the size', (size: number) => `bytes=${size + 10}-${size + 20}`],
    ['open, starting past the size', (size: number) => `bytes=${size + 10}-`],
    ['an empty suffix', () => 'bytes=-0'],
  ])('Range %s → 416 with Content-Range bytes */size and the Zoho JSON error', async (_name, range) => {
    const size = target.bytes().length;
    const res = await fetchIt({ range: range(size) });
    expect(res.status, res.text.slice(0, 200)).toBe(416);
    expectZohoError(res, {
      status: 416,
      code: 'INVALID_DATA',
      message: 'the requested range is not satisfiable',
      details: { size },
    });
    expect(res.headers['content-range']).toBe(`bytes */${size}`);
  });

  it.each(['bytes=0-1,3-4', 'bytes=0-1, 5-', 'bytes=abc', 'items=0-5', 'bytes=9-2', 'bytes=', 'bytes=-', '0-9', 'bytes=1.5-3'])(
    'Range %j (several ranges or malformed) → 200 with the whole body',
    async (range) => {
      const res = await fetchIt({ range });
      expect(res.status, res.text.slice(0, 200)).toBe(200);
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.headers['content-length']).toBe(String(target.bytes().length));
      expect(res.body.equals(target.bytes())).toBe(true);
    },
  );

  it('If-Range matching the ETag → 206', async () => {
    const res = await fetchIt({ range: 'bytes=0-9', 'if-range': etag() });
    expect(res.status).toBe(206);
    expect(res.body.equals(target.bytes().subarray(0, 10))).toBe(true);
  });

  it.each(['"other"', 'Wed, 21 Oct 2015 07:28:00 GMT'])('If-Range %j not matching → 200 with the whole body', async (ifRange) => {
    const res = await fetchIt({ range: 'bytes=0-9', 'if-range': ifRange });
    expect(res.status).toBe(200);
    expect(res.headers['content-range']).toBeUndefined();
    expect(res.body.equals(target.bytes())).toBe(true);
  });

  it('HEAD with a range → 206 headers, no body', async () => {
    const res = await fetchIt({ range: 'bytes=0-9' }, 'HEAD');
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 0-9/${target.bytes().length}`);
    expect(res.headers['content-length']).toBe('10');
    expect(res.body.length).toBe(0);
  });

  it('If-None-Match wins over Range (304)', async () => {
    const res = await fetchIt({ range: 'bytes=0-9', 'if-none-match': etag() });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
  });

  it('afterwards the whole download is still intact', async () => {
    const res = await fetchIt();
    expect(res.status).toBe(200);
    expect(res.body.equals(target.bytes())).toBe(true);
  });
});
