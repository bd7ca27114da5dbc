/**
 * Record attachments over real HTTP (docs/compatibility.md "Attachment uploads", "Times", "Methods"): files and
 * links (query string as the official SDK sends them, or multipart fields as Zoho's curl sample), every refusal
 * leaving storage untouched, the size limit (streamed too), deletes, bad ids, methods, module names and custom
 * modules (attachments and photos).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment } from '../../src/domain/entities.js';
import { gif, png } from '../helpers/images.js';
import { type MultipartBody, filePart, multipart, streamedFilePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { MiB, added, expectAnyZoho400, expectBlobs, expectNoTempFiles } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const ZOHO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/;
const ID = /^\d{1,19}$/;
const LINK = 'https://www.zohocorp.com';

const NO_FILE = { status: 400, code: 'INVALID_DATA', message: 'The request does not contain any file', details: { param_name: 'file' } };
const TWO_FILES = { status: 400, code: 'INVALID_DATA', message: 'The request contains more than one file' };
const EMPTY_FILE = { status: 400, code: 'INVALID_DATA', message: 'The file is empty', details: { param_name: 'file' } };
const FILE_AND_LINK = {
  status: 400,
  code: 'INVALID_DATA',
  message: 'Either a file or an attachment link can be added in a request, not both',
};
const NOT_MULTIPART = {
  status: 400,
  code: 'INVALID_REQUEST',
  message: 'invalid request',
  details: { expected_type: 'Multipart Form Request' },
};
const BAD_URL = { status: 400, code: 'INVALID_DATA', details: { param_name: 'attachmentUrl' } };
const BAD_TITLE = { status: 400, code: 'INVALID_DATA', details: { param_name: 'title', maximum_length: 255 } };
const TOO_LARGE = {
  status: 415,
  code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
  message: 'please check if the file size is in the correct range',
  details: {},
};
const BAD_METHOD = { status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one' };
const RELATED_ID = {
  status: 400,
  code: 'INVALID_DATA',
  message: 'the related id given seems to be invalid',
  details: { related_status: 'invalid', resource_path_index: 1 },
};
const invalidId = (id: string) => ({
  status: 400,
  code: 'INVALID_DATA',
  message: 'the id given seems to be invalid',
  details: { id, resource_path_index: 3 },
});

let server: TestServer;

beforeAll(async () => {
  // Small attachment limit, so that the limit tests stay cheap; every other test uses small files.
  server = await TestServer.start({ attachmentMaxBytes: MiB });
});
afterAll(() => server?.stop());

type Body = { contentType?: string; body: MultipartBody['body'] | string | AsyncIterable<Buffer> | null };

function attachmentsPath(record: string, module = 'Leads'): string {
  return `/crm/v8/${module}/${record}/Attachments`;
}

function post(
  record: string,
  b: Body,
  opts: { path?: string; query?: Record<string, string>; token?: string } = {},
): Promise<HttpResponse> {
  return server.api('POST', opts.path ?? attachmentsPath(record), {
    headers: b.contentType ? { 'content-type': b.contentType } : {},
    body: b.body,
    ...(opts.query ? { query: opts.query } : {}),
    ...(opts.token ? { token: opts.token } : {}),
  });
}

async function attachmentsOf(record: string, org = server.orgId): Promise<Attachment[]> {
  return server.runtime.store.attachments.list(org, record, { limit: 1000, offset: 0 });
}

async function blobBytes(key: string): Promise<Buffer> {
  const reader = await server.runtime.blobs.open(key);
  expect(reader, `blob ${key} exists`).toBeDefined();
  const chunks: Buffer[] = [];
  for await (const c of reader!.stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A SUCCESS upload reply in Zoho's shape; returns the new attachment's id. */
function expectUploaded(res: HttpResponse, user: { name: string; id: string }, offset?: string): string {
  expect(res.status, res.text).toBe(200);
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
  expect(Object.keys(res.json)).toEqual(['data']);
  expect(res.json.data).toHaveLength(1);
  const item = res.json.data[0];
  expect(Object.keys(item)).toEqual(['code', 'details', 'message', 'status']);
  expect(item).toMatchObject({ code: 'SUCCESS', message: 'attachment uploaded successfully', status: 'success' });
  expect(Object.keys(item.details)).toEqual(['Modified_Time', 'Modified_By', 'Created_Time', 'id', 'Created_By']);
  expect(item.details.id).toMatch(ID);
  expect(item.details.Created_By).toEqual(user);
  expect(item.details.Modified_By).toEqual(user);
  expect(item.details.Created_Time).toMatch(ZOHO_TIME);
  expect(item.details.Modified_Time).toMatch(ZOHO_TIME);
  expect(item.details.Modified_Time).toBe(item.details.Created_Time);
  if (offset !== undefined) expect(item.details.Created_Time.slice(-6)).toBe(offset);
  // The local time and the offset together name the present instant (not just a suffix glued onto UTC).
  expect(Math.abs(Date.parse(item.details.Created_Time) - Date.now())).toBeLessThan(5 * 60_000);
  return item.details.id as string;
}

const ADMIN = () => ({ name: 'Admin User', id: server.adminUserId });
const newLead = () => server.createRecord('Leads');

describe(`file uploads (${BACKEND})`, () => {
  it("times in the org's zone: an Asia/Kolkata org answers with +05:30, key order as Zoho's sample", async () => {
    const org = await server.createOrg(`kolkata-${Date.now()}`, 'Asia/Kolkata');
    const users = await server.admin('GET', `/orgs/${org.id}/users`);
    const admin = users.users.find((u: { name: string }) => u.name === 'Org Admin');
    expect(admin).toBeDefined();
    const record = await server.createRecord('Leads', org.adminToken);
    const before = await server.blobFiles();
    const content = Buffer.from('attachment one\n');
    const res = await post(record, filePart(content, 'attachment1.txt', 'text/plain'), { token: org.adminToken });
    const id = expectUploaded(res, { name: 'Org Admin', id: admin.id }, '+05:30');

    const stored = await attachmentsOf(record, org.id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id, kind: 'file', fileName: 'attachment1.txt', contentType: 'text/plain', size: content.length });
    const newKeys = added(before, await server.blobFiles());
    expect(newKeys).toEqual([stored[0]!.blobKey]);
    expect((await blobBytes(newKeys[0]!)).equals(content)).toBe(true);
    await expectNoTempFiles(server);
  });

  it('the bootstrap org (UTC) answers with +00:00', async () => {
    const record = await newLead();
    expectUploaded(await post(record, filePart('x', 'x.txt', 'text/plain')), ADMIN(), '+00:00');
  });

  it.each([
    { name: 'binary png with its type', data: png(9, 9), filename: 'p.png', declared: 'image/png', stored: 'image/png' },
    { name: 'octet-stream .pdf', data: Buffer.from('%PDF-1.4\n%%EOF\n'), filename: 'doc.pdf', declared: 'application/octet-stream', stored: 'application/pdf' },
    { name: 'unknown extension', data: Buffer.from([1, 2, 3]), filename: 'blob.xyz', declared: 'application/octet-stream', stored: 'application/octet-stream' },
    { name: 'path in filename', data: Buffer.from('hi'), filename: '../../etc/passwd.txt', declared: 'text/plain', stored: 'text/plain' },
  ])('file: $name → stored byte-identical', async (c) => {
    const record = await newLead();
    const before = await server.blobFiles();
    expectUploaded(await post(record, filePart(c.data, c.filename, c.declared)), ADMIN());
    const [a] = await attachmentsOf(record);
    expect(a).toMatchObject({ kind: 'file', contentType: c.stored, size: c.data.length, fileName: c.filename.split('/').pop() });
    const keys = added(before, await server.blobFiles());
    expect(keys).toEqual([a!.blobKey]);
    expect((await blobBytes(keys[0]!)).equals(c.data)).toBe(true);
  });

  it('a file with a title field keeps the title', async () => {
    const record = await newLead();
    const body = multipart([
      { name: 'title', data: 'Quarterly report' },
      { name: 'file', filename: 'q.txt', contentType: 'text/plain', data: 'numbers' },
    ]);
    expectUploaded(await post(record, body), ADMIN());
    expect((await attachmentsOf(record))[0]).toMatchObject({ kind: 'file', title: 'Quarterly report', fileName: 'q.txt' });
  });

  it('several attachments on one record are all kept', async () => {
    const record = await newLead();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(expectUploaded(await post(record, filePart(`n${i}`, `n${i}.txt`, 'text/plain')), ADMIN()));
    expect(new Set(ids).size).toBe(3);
    expect((await attachmentsOf(record)).map((a) => a.id).sort()).toEqual([...ids].sort());
  });
});

describe(`link uploads (${BACKEND})`, () => {
  it('link in the query string, POST with no body and no content type (the official SDK) → success', async () => {
    const record = await newLead();
    const before = await server.blobFiles();
    const res = await server.api('POST', `${attachmentsPath(record)}?attachmentUrl=https%3A%2F%2Fwww.zohocorp.com&title=test+link`);
    const id = expectUploaded(res, ADMIN());
    const [a] = await attachmentsOf(record);
    expect(a).toMatchObject({ id, kind: 'link', linkUrl: LINK, title: 'test link', blobKey: null });
    await expectBlobs(server, before);
  });

  it('link as multipart fields attachmentUrl + title (Zoho curl sample) → success', async () => {
    const record = await newLead();
    const before = await server.blobFiles();
    const body = multipart([
      { name: 'attachmentUrl', data: LINK },
      { name: 'title', data: 'field title' },
    ]);
    const id = expectUploaded(await post(record, body), ADMIN());
    expect((await attachmentsOf(record))[0]).toMatchObject({ id, kind: 'link', linkUrl: LINK, title: 'field title' });
    await expectBlobs(server, before);
  });

  it('link without a title: the URL itself is the title (never fetched)', async () => {
    const record = await newLead();
    expectUploaded(await post(record, { body: null }, { query: { attachmentUrl: 'http://127.0.0.1:9/never-fetched' } }), ADMIN());
    expect((await attachmentsOf(record))[0]).toMatchObject({
      kind: 'link',
      linkUrl: 'http://127.0.0.1:9/never-fetched',
      title: 'http://127.0.0.1:9/never-fetched',
    });
  });

  it('a title of exactly 255 characters is accepted', async () => {
    const record = await newLead();
    const title = 't'.repeat(255);
    expectUploaded(await post(record, { body: null }, { query: { attachmentUrl: LINK, title } }), ADMIN());
    expect((await attachmentsOf(record))[0]).toMatchObject({ title });
  });
});

describe(`refused uploads change nothing (${BACKEND})`, () => {
  let record: string;
  beforeAll(async () => {
    record = await server.createRecord('Leads');
    // One existing attachment, which every refusal must leave alone.
    const keep = filePart('keep', 'keep.txt', 'text/plain');
    const res = await server.api('POST', attachmentsPath(record), { headers: { 'content-type': keep.contentType }, body: keep.body });
    expect(res.status, res.text).toBe(200);
  });

  async function expectUnchanged(before: { blobs: string[]; rows: Attachment[] }): Promise<void> {
    expect(await attachmentsOf(record)).toEqual(before.rows);
    await expectBlobs(server, before.blobs);
    await expectNoTempFiles(server);
  }
  async function snapshot() {
    const rows = await attachmentsOf(record);
    expect(rows).toHaveLength(1);
    return { blobs: await server.blobFiles(), rows };
  }

  const file = filePart('file bytes', 'f.txt', 'text/plain');
  const cases: Array<{ name: string; body: () => Body; query?: Record<string, string>; expected: Parameters<typeof expectZohoError>[1] }> = [
    { name: 'file + link in the query', body: () => file, query: { attachmentUrl: LINK }, expected: FILE_AND_LINK },
    {
      name: 'link field before the file',
      body: () =>
        multipart([
          { name: 'attachmentUrl', data: LINK },
          { name: 'file', filename: 'f.txt', contentType: 'text/plain', data: 'file bytes' },
        ]),
      expected: FILE_AND_LINK,
    },
    {
      name: 'link field after the file',
      body: () =>
        multipart([
          { name: 'file', filename: 'f.txt', contentType: 'text/plain', data: 'file bytes' },
          { name: 'attachmentUrl', data: LINK },
        ]),
      expected: FILE_AND_LINK,
    },
    { name: 'multipart with only a title', body: () => multipart([{ name: 'title', data: 'lonely title' }]), expected: NO_FILE },
    {
      name: 'file part named attachment',
      body: () => multipart([{ name: 'attachment', filename: 'f.txt', contentType: 'text/plain', data: 'x' }]),
      expected: NO_FILE,
    },
    { name: 'no body and no attachmentUrl', body: () => ({ body: null }), expected: NOT_MULTIPART },
    { name: 'JSON body without attachmentUrl', body: () => ({ contentType: 'application/json', body: '{"attachmentUrl":"https://x.y"}' }), expected: NOT_MULTIPART },
    { name: 'urlencoded body', body: () => ({ contentType: 'application/x-www-form-urlencoded', body: 'attachmentUrl=https%3A%2F%2Fx.y' }), expected: NOT_MULTIPART },
    { name: 'attachmentUrl=ftp://x (query)', body: () => ({ body: null }), query: { attachmentUrl: 'ftp://x' }, expected: BAD_URL },
    { name: 'attachmentUrl=not a url (query)', body: () => ({ body: null }), query: { attachmentUrl: 'not a url' }, expected: BAD_URL },
    { name: 'attachmentUrl=javascript:alert(1) (query)', body: () => ({ body: null }), query: { attachmentUrl: 'javascript:alert(1)' }, expected: BAD_URL },
    { name: 'attachmentUrl empty (query)', body: () => ({ body: null }), query: { attachmentUrl: '' }, expected: BAD_URL },
    {
      name: 'attachmentUrl of 2049 characters (query)',
      body: () => ({ body: null }),
      query: { attachmentUrl: `https://example.com/${'a'.repeat(2049 - 20)}` },
      expected: BAD_URL,
    },
    { name: 'attachmentUrl=ftp://x (field)', body: () => multipart([{ name: 'attachmentUrl', data: 'ftp://x' }]), expected: BAD_URL },
    { name: 'attachmentUrl=not a url (field)', body: () => multipart([{ name: 'attachmentUrl', data: 'not a url' }]), expected: BAD_URL },
    {
      name: 'title of 256 characters (query, with a link)',
      body: () => ({ body: null }),
      query: { attachmentUrl: LINK, title: 'x'.repeat(256) },
      expected: BAD_TITLE,
    },
    {
      name: 'title of 256 characters (field, with a file)',
      body: () =>
        multipart([
          { name: 'title', data: 'y'.repeat(256) },
          { name: 'file', filename: 'f.txt', contentType: 'text/plain', data: 'file bytes' },
        ]),
      expected: BAD_TITLE,
    },
    {
      name: 'two files',
      body: () =>
        multipart([
          { name: 'file', filename: 'a.txt', contentType: 'text/plain', data: 'a' },
          { name: 'file', filename: 'b.txt', contentType: 'text/plain', data: 'b' },
        ]),
      expected: TWO_FILES,
    },
    { name: 'empty file', body: () => filePart(Buffer.alloc(0), 'empty.txt', 'text/plain'), expected: EMPTY_FILE },
  ];

  it.each(cases)('$name → $expected.code', async (c) => {
    const before = await snapshot();
    expectZohoError(await post(record, c.body(), c.query ? { query: c.query } : {}), c.expected);
    await expectUnchanged(before);
  });

  it.each([
    {
      name: 'closing boundary missing (truncated framing)',
      body: (): Body => {
        const m = filePart('some text that is cut', 'cut.txt', 'text/plain');
        return { contentType: m.contentType, body: m.body.subarray(0, m.body.length - 20) };
      },
    },
    { name: 'multipart without boundary', body: (): Body => ({ contentType: 'multipart/form-data', body: file.body }) },
  ])('broken multipart: $name → a Zoho 400 error', async (c) => {
    const before = await snapshot();
    const res = await post(record, c.body());
    await expectUnchanged(before);
    expectAnyZoho400(res);
  });

  it('exactly the limit (1 MiB) is accepted; 1 MiB + 1 (Content-Length), 1 MiB + 1 and 8 MiB chunked → 415', async () => {
    const before = await snapshot();
    expectZohoError(await post(record, filePart(Buffer.alloc(MiB + 1, 0x61), 'over.bin')), TOO_LARGE);
    await expectUnchanged(before);
    expectZohoError(await post(record, streamedFilePart(Buffer.from('text'), MiB + 1, 64 * 1024, 'over.txt')), TOO_LARGE);
    await expectUnchanged(before);
    expectZohoError(await post(record, streamedFilePart(Buffer.from('text'), 8 * MiB, 64 * 1024, 'huge.txt')), TOO_LARGE);
    await expectUnchanged(before);

    const fits = Buffer.alloc(MiB, 0x62);
    const id = expectUploaded(await post(record, filePart(fits, 'fits.bin')), ADMIN());
    const a = (await attachmentsOf(record)).find((x) => x.id === id);
    expect(a).toMatchObject({ size: MiB });
    const keys = added(before.blobs, await server.blobFiles());
    expect(keys).toEqual([a!.blobKey]);
    expect((await blobBytes(keys[0]!)).equals(fits)).toBe(true);
    // Put the record back as the other cases expect it.
    const del = await server.api('DELETE', `${attachmentsPath(record)}/${id}`);
    expect(del.status).toBe(200);
    await expectUnchanged(before);
  });

  it('exactly 1 MiB streamed chunked is accepted', async () => {
    const other = await newLead();
    const id = expectUploaded(await post(other, streamedFilePart(Buffer.from('head'), MiB, 64 * 1024, 'chunked.txt')), ADMIN());
    expect((await attachmentsOf(other))[0]).toMatchObject({ id, size: MiB, fileName: 'chunked.txt' });
  });
});

describe(`deletes (${BACKEND})`, () => {
  it('DELETE …/Attachments/{id}: Zoho body, row and blob removed; deleting again → invalid id', async () => {
    const record = await newLead();
    const before = await server.blobFiles();
    const id = expectUploaded(await post(record, filePart('to delete', 'd.txt', 'text/plain')), ADMIN());
    const [key] = added(before, await server.blobFiles());
    expect(key).toBeDefined();

    const res = await server.api('DELETE', `${attachmentsPath(record)}/${id}`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(res.json).toEqual({ data: [{ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' }] });
    expect(Object.keys(res.json.data[0])).toEqual(['code', 'details', 'message', 'status']);
    expect(await attachmentsOf(record)).toEqual([]);
    await expectBlobs(server, before);

    expectZohoError(await server.api('DELETE', `${attachmentsPath(record)}/${id}`), invalidId(id));
  });

  it('deleting a link attachment', async () => {
    const record = await newLead();
    const id = expectUploaded(await post(record, { body: null }, { query: { attachmentUrl: LINK } }), ADMIN());
    const res = await server.api('DELETE', `${attachmentsPath(record)}/${id}`);
    expect(res.json).toEqual({ data: [{ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' }] });
    expect(await attachmentsOf(record)).toEqual([]);
  });

  it.each(['abc', '12ab', '99999999999999999999', '9223372036854775808', '1234567890123456789'])(
    'malformed or unknown attachment id %s → INVALID_DATA with details.id',
    async (bad) => {
      const record = await newLead();
      expectUploaded(await post(record, filePart('stay', 's.txt', 'text/plain')), ADMIN());
      const rows = await attachmentsOf(record);
      const blobs = await server.blobFiles();
      expectZohoError(await server.api('DELETE', `${attachmentsPath(record)}/${bad}`), invalidId(bad));
      expect(await attachmentsOf(record)).toEqual(rows);
      await expectBlobs(server, blobs);
    },
  );

  it("another record's attachment id → INVALID_DATA, and that attachment stays", async () => {
    const mine = await newLead();
    const theirs = await newLead();
    const id = expectUploaded(await post(theirs, filePart('theirs', 't.txt', 'text/plain')), ADMIN());
    const blobs = await server.blobFiles();
    expectZohoError(await server.api('DELETE', `${attachmentsPath(mine)}/${id}`), invalidId(id));
    expect((await attachmentsOf(theirs)).map((a) => a.id)).toEqual([id]);
    await expectBlobs(server, blobs);
    // The same id under another module with the other record's id is no better.
    const contact = await server.createRecord('Contacts', server.devToken, { Last_Name: 'C' });
    expectZohoError(await server.api('DELETE', `/crm/v8/Contacts/${contact}/Attachments/${id}`), invalidId(id));
  });

  it("an attachment id of another org's record → INVALID_DATA (no cross-org delete)", async () => {
    const org = await server.createOrg();
    const foreignRecord = await server.createRecord('Leads', org.adminToken);
    const res = await post(foreignRecord, filePart('foreign', 'f.txt', 'text/plain'), { token: org.adminToken });
    expect(res.status).toBe(200);
    const foreignId = res.json.data[0].details.id as string;
    const mine = await newLead();
    expectZohoError(await server.api('DELETE', `${attachmentsPath(mine)}/${foreignId}`), invalidId(foreignId));
    expect((await attachmentsOf(foreignRecord, org.id)).map((a) => a.id)).toEqual([foreignId]);
  });

  it.each([
    { name: 'unknown record id', record: () => Promise.resolve('1234567890123456789') },
    { name: 'malformed record id', record: () => Promise.resolve('abc') },
    { name: 'a Contacts record under Leads', record: () => server.createRecord('Contacts', server.devToken, { Last_Name: 'C' }) },
  ])('$name on upload and delete → "the related id given seems to be invalid"', async (c) => {
    const record = await c.record();
    const blobs = await server.blobFiles();
    expectZohoError(await post(record, filePart('x', 'x.txt', 'text/plain')), RELATED_ID);
    expectZohoError(await post(record, { body: null }, { query: { attachmentUrl: LINK } }), RELATED_ID);
    expectZohoError(await server.api('DELETE', `${attachmentsPath(record)}/1234567890123456789`), RELATED_ID);
    await expectBlobs(server, blobs);
    await expectNoTempFiles(server);
  });
});

describe(`methods (${BACKEND})`, () => {
  let record: string;
  let id: string;
  beforeAll(async () => {
    record = await server.createRecord('Leads');
    const res = await post(record, filePart('m', 'm.txt', 'text/plain'));
    id = res.json.data[0].details.id;
  });

  // GET (list) and DELETE (bulk delete) on …/Attachments are served since issue 4.
  it.each(['PUT', 'PATCH', 'OPTIONS'])('%s …/Attachments → INVALID_REQUEST_METHOD', async (method) => {
    const m = filePart('x', 'x.txt', 'text/plain');
    const body = method === 'OPTIONS' ? {} : { headers: { 'content-type': m.contentType }, body: m.body };
    expectZohoError(await server.api(method, attachmentsPath(record), body), BAD_METHOD);
    expect((await attachmentsOf(record)).map((a) => a.id)).toEqual([id]);
  });

  // GET (download) on …/Attachments/{id} is served since issue 4.
  it.each(['PUT', 'PATCH', 'POST', 'OPTIONS'])('%s …/Attachments/{id} → INVALID_REQUEST_METHOD', async (method) => {
    const m = filePart('x', 'x.txt', 'text/plain');
    const body = method === 'OPTIONS' ? {} : { headers: { 'content-type': m.contentType }, body: m.body };
    expectZohoError(await server.api(method, `${attachmentsPath(record)}/${id}`, body), BAD_METHOD);
    expect((await attachmentsOf(record)).map((a) => a.id)).toEqual([id]);
  });
});

describe(`module names and custom modules (${BACKEND})`, () => {
  it.each(['leads', 'LEADS', 'lEaDs'])('/crm/v8/%s/{id}/Attachments (and lower-case attachments) works', async (name) => {
    const record = await newLead();
    const id = expectUploaded(await post(record, filePart('ci', 'ci.txt', 'text/plain'), { path: `/crm/v8/${name}/${record}/Attachments` }), ADMIN());
    expectUploaded(await post(record, { body: null }, { path: `/crm/v8/${name}/${record}/attachments`, query: { attachmentUrl: LINK } }), ADMIN());
    const del = await server.api('DELETE', `/crm/v8/${name}/${record}/ATTACHMENTS/${id}`);
    expect(del.json).toEqual({ data: [{ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' }] });
    expect(await attachmentsOf(record)).toHaveLength(1);
  });

  describe('custom module Pets', () => {
    let pet: string;
    beforeAll(async () => {
      await server.admin('POST', `/orgs/${server.orgId}/modules`, { api_name: 'Pets' });
      pet = await server.createRecord('Pets', server.devToken, { Name: 'Rex' });
    });

    it.each(['Pets', 'pets'])('attachments on /crm/v8/%s: file, link, delete', async (name) => {
      const before = await server.blobFiles();
      const fileId = expectUploaded(await post(pet, filePart('woof', 'woof.txt', 'text/plain'), { path: attachmentsPath(pet, name) }), ADMIN());
      const linkId = expectUploaded(await post(pet, { body: null }, { path: attachmentsPath(pet, name), query: { attachmentUrl: LINK } }), ADMIN());
      expect((await attachmentsOf(pet)).map((a) => a.id).sort()).toEqual([fileId, linkId].sort());
      for (const id of [fileId, linkId]) {
        const del = await server.api('DELETE', `${attachmentsPath(pet, name)}/${id}`);
        expect(del.json).toEqual({ data: [{ code: 'SUCCESS', details: { id }, message: 'record deleted', status: 'success' }] });
      }
      expect(await attachmentsOf(pet)).toEqual([]);
      await expectBlobs(server, before);
    });

    it.each(['Pets', 'pets'])('photo on /crm/v8/%s: upload, download, delete', async (name) => {
      const before = await server.blobFiles();
      const image = gif(16, 16);
      const m = filePart(image, 'rex.gif', 'image/gif');
      const up = await server.api('POST', `/crm/v8/${name}/${pet}/photo`, { headers: { 'content-type': m.contentType }, body: m.body });
      expect({ status: up.status, body: up.json }, up.text).toEqual({
        status: 200,
        body: { code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' },
      });
      const res = await server.api('GET', `/crm/v8/${name}/${pet}/photo`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/gif');
      expect(res.headers['content-disposition']).toBe('attachment; filename="rex.gif"');
      expect(res.body.equals(image)).toBe(true);
      const del = await server.api('DELETE', `/crm/v8/${name}/${pet}/photo`);
      expect(del.json).toEqual({ code: 'SUCCESS', details: {}, message: 'Photo deleted', status: 'success' });
      expect((await server.api('GET', `/crm/v8/${name}/${pet}/photo`)).status).toBe(204);
      await expectBlobs(server, before);
    });

    it('a Pets record id under Leads is not a Leads record', async () => {
      expectZohoError(await post(pet, filePart('x', 'x.txt', 'text/plain')), RELATED_ID);
    });
  });
});
