/**
 * Inputs that once slipped past the Zoho-shaped answers: Content-Type headers Fastify cannot parse, links that are
 * not valid header values, parameters that are only judged after a large body, ids taken by another org, a commit
 * whose outcome is unknown, and clients that stall mid-body.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Fastify's own media-type parser: the server must agree with it on which headers it would refuse.
// @ts-expect-error internal module without type declarations
import FastifyContentType from 'fastify/lib/content-type.js';
import { isParsableMediaType } from '../../src/server/app.js';
import { CommitOutcomeUnknownError } from '../../src/domain/ports/metadata-errors.js';
import { png } from '../helpers/images.js';
import { filePart, multipart } from '../helpers/multipart.js';
import { rawExchange, uploadHead, write } from '../helpers/robustness.js';
import { TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const MULTIPART_EXPECTED = { expected_type: 'Multipart Form Request' };

let server: TestServer;
let record: string;

beforeAll(async () => {
  server = await TestServer.start();
  record = await server.createRecord('Leads');
});
afterAll(() => server?.stop());

describe('Content-Type headers Fastify cannot parse', () => {
  it('isParsableMediaType agrees with Fastify on arbitrary headers', () => {
    const tokenish = fc.stringMatching(/^[ a-z/;=+.*"\\-]{0,12}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string(), tokenish, fc.constantFrom('', 'undefined', 'json', 'a/b', ' a/b ; c=d', 'a/ b', 'multipart/form-data boundary=x')), (header) => {
        expect(isParsableMediaType(header)).toBe(new FastifyContentType(header).isValid);
      }),
      { numRuns: 2_000 },
    );
  });

  it.each(['json', 'multipart/form-data boundary=x', '', 'image/png/x', '/'])('photo upload with %j → INVALID_REQUEST, nothing stored', async (type) => {
    const before = await server.blobFiles();
    const res = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': type }, body: png(10, 10) });
    expectZohoError(res, { status: 400, code: 'INVALID_REQUEST', details: MULTIPART_EXPECTED });
    expect(await server.blobFiles()).toEqual(before);
  });

  it('attachment upload with a malformed type → INVALID_REQUEST', async () => {
    const res = await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': 'text' }, body: 'x' });
    expectZohoError(res, { status: 400, code: 'INVALID_REQUEST', details: MULTIPART_EXPECTED });
  });

  it('the checks before the body still come first: PUT → INVALID_REQUEST_METHOD, no token → AUTHENTICATION_FAILURE', async () => {
    const put = await server.api('PUT', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': 'json' }, body: '{}' });
    expectZohoError(put, { status: 400, code: 'INVALID_REQUEST_METHOD' });
    const anonymous = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { token: null, headers: { 'content-type': 'json' }, body: 'x' });
    expectZohoError(anonymous, { status: 401, code: 'AUTHENTICATION_FAILURE' });
  });

  it('the token endpoint and the admin API answer in their own shapes, not with a 500', async () => {
    const token = await http('POST', `${server.url}/oauth/v2/token?grant_type=refresh_token`, { headers: { 'content-type': 'form' }, body: 'a=b' });
    expect(token.status).toBe(200);
    expect(token.json).toEqual({ error: 'invalid_client' });
    const admin = await http('POST', `${server.url}/_admin/orgs`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'json' },
      body: JSON.stringify({ name: 'typed badly' }),
    });
    expect(admin.status).toBeLessThan(500);
  });
});

describe('links', () => {
  async function addLink(link: string) {
    return server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { query: { attachmentUrl: link } });
  }

  it('a link with non-ASCII text is stored as given and served as a valid, encoded Location', async () => {
    const link = 'https://bücher.example/資料/report.pdf?q=ä';
    const added = await addLink(link);
    expect(added.status).toBe(200);
    const id = added.json.data[0].details.id as string;
    const list = await server.api('GET', `/crm/v8/Leads/${record}/Attachments`, { query: { fields: '$link_url', ids: id } });
    expect(list.json.data[0].$link_url).toBe(link);
    const res = await server.api('GET', `/crm/v8/Leads/${record}/Attachments/${id}`);
    expect(res.status).toBe(204);
    expect(res.headers['location']).toBe('https://xn--bcher-kva.example/%E8%B3%87%E6%96%99/report.pdf?q=%C3%A4');
  });

  it.each([
    ['a line break', 'https://example.com/a\r\nSet-Cookie: x=1'],
    ['a tab', 'https://example.com/a\tb'],
    ['a NUL', 'https://example.com/a\u0000b'],
  ])('a link holding %s → INVALID_DATA, nothing added', async (_name, link) => {
    const before = await server.api('GET', `/crm/v8/Leads/${record}/Attachments`, { query: { fields: 'id' } });
    expectZohoError(await addLink(link), { status: 400, code: 'INVALID_DATA', details: { param_name: 'attachmentUrl' } });
    const after = await server.api('GET', `/crm/v8/Leads/${record}/Attachments`, { query: { fields: 'id' } });
    expect(after.json?.data?.length).toBe(before.json?.data?.length);
  });
});

describe('parameters known before the body', () => {
  it('a query title over 255 characters is refused before a file is read: it wins over an empty file', async () => {
    const { body, contentType } = filePart(Buffer.alloc(0), 'empty.txt', 'text/plain');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, {
      query: { title: 't'.repeat(256) },
      headers: { 'content-type': contentType },
      body,
    });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA', details: { param_name: 'title', maximum_length: 255 } });
  });

  it('…and answered while a large body is still being sent, which is never stored', async () => {
    const before = await server.blobFiles();
    const boundary = 'bnd-title';
    let sent = 0;
    let answeredAfter = -1;
    async function* slowBody() {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      for (let i = 0; i < 200 && answeredAfter < 0; i++) {
        sent += 64 * 1024;
        yield Buffer.alloc(64 * 1024, 1);
        await sleep(10);
      }
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const res = await server
      .api('POST', `/crm/v8/Leads/${record}/Attachments`, {
        query: { title: 'x'.repeat(300) },
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: Readable.from(slowBody()),
      })
      .then((r) => {
        answeredAfter = sent;
        return r;
      });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA', details: { param_name: 'title', maximum_length: 255 } });
    expect(answeredAfter).toBeLessThan(200 * 64 * 1024);
    expect(await server.blobFiles()).toEqual(before);
  });
});

describe('admin ids are unique across orgs', () => {
  it('a record, profile or user id taken in another org → DUPLICATE_DATA, not a 500', async () => {
    const other = await server.createOrg();
    const taken = await server.admin('POST', `/orgs/${server.orgId}/records`, { module: 'Leads', data: { Last_Name: 'A' } });
    const res = await http('POST', `${server.url}/_admin/orgs/${other.id}/records`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ module: 'Leads', id: taken.id, data: {} }),
    });
    expectZohoError(res, { status: 400, code: 'DUPLICATE_DATA', details: { field: 'id', value: taken.id } });

    const profiles = await server.admin('GET', `/orgs/${server.orgId}/profiles`);
    const profileId = profiles.profiles[0].id as string;
    const p = await http('POST', `${server.url}/_admin/orgs/${other.id}/profiles`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ id: profileId, name: 'Copy' }),
    });
    expectZohoError(p, { status: 400, code: 'DUPLICATE_DATA', details: { field: 'id', value: profileId } });
    // The other org is unaffected and still works.
    expect((await server.admin('GET', `/orgs/${other.id}/records?module=Leads`)).records).toEqual([]);
  });
});

describe('a commit whose outcome is unknown', () => {
  it('answers 500 but keeps the new bytes: the row that did commit still finds them', async () => {
    const id = await server.createRecord('Leads');
    const store = server.runtime.store;
    const original = store.transaction;
    // Every transaction while the upload runs, not only the next one: the webhook poller's claim (once a second) may
    // come first while the bytes are still going to a slow store. Its failure is retried; the upload's is the test.
    store.transaction = async function (fn: Parameters<typeof original>[0]) {
      await original.call(store, fn);
      throw new CommitOutcomeUnknownError(new Error('connection lost during COMMIT'));
    } as typeof store.transaction;
    const image = png(17, 19);
    const { body, contentType } = filePart(image, 'maybe.png', 'image/png');
    try {
      const res = await server.api('POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': contentType }, body });
      expectZohoError(res, { status: 500, code: 'INTERNAL_ERROR', details: {} });
      expect(res.text).not.toContain('COMMIT');
    } finally {
      store.transaction = original;
    }
    const photo = await server.api('GET', `/crm/v8/Leads/${id}/photo`);
    expect(photo.status).toBe(200);
    expect(photo.body.equals(image)).toBe(true);
  });
});

describe('clients that stall mid-body', () => {
  it('a silent connection is closed after the idle bound; nothing is stored and the server keeps serving', async () => {
    const s = await TestServer.start({ idleTimeoutMs: 1_000 });
    try {
      const id = await s.createRecord('Leads');
      const before = await s.blobFiles();
      const { body, contentType } = multipart([{ name: 'file', filename: 'stall.bin', contentType: 'application/octet-stream', data: Buffer.alloc(100_000, 7) }]);
      const started = Date.now();
      const result = await rawExchange(
        s.url,
        async (sock) => {
          await write(sock, uploadHead(`/crm/v8/Leads/${id}/Attachments`, s.devToken, contentType, body.length));
          await write(sock, body.subarray(0, 500));
          // …and nothing more.
        },
        { timeoutMs: 10_000 },
      );
      expect(result.closed).toBe(true);
      expect(result.raw.length).toBe(0);
      expect(result.timedOut).toBe(false);
      expect(Date.now() - started).toBeLessThan(8_000);
      await s.runtime.janitor.settled();
      expect(await s.blobFiles()).toEqual(before);
      expect((await s.api('GET', `/crm/v8/Leads/${id}/Attachments`, { query: { fields: 'id' } })).status).toBe(204);
      expect(await s.tempFiles()).toEqual([]);
    } finally {
      await s.stop();
    }
  });
});

describe('download names the official SDK would cut short', () => {
  it.each([
    ["O'Neil.pdf", `attachment; filename="O'Neil.pdf"; filename*=UTF-8''O%27Neil.pdf`],
    ['a=b.pdf', `attachment; filename="a=b.pdf"; filename*=UTF-8''a%3Db.pdf`],
    ['plain.pdf', 'attachment; filename="plain.pdf"'],
  ])('%s → %s', async (name, header) => {
    const { body, contentType } = filePart('%PDF-1.4 x', name, 'application/pdf');
    const added = await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': contentType }, body });
    expect(added.status).toBe(200);
    const res = await server.api('GET', `/crm/v8/Leads/${record}/Attachments/${added.json.data[0].details.id}`);
    expect(res.headers['content-disposition']).toBe(header);
  });
});

describe('a body that does not arrive in time', () => {
  it('is answered 408 in Zoho\'s envelope and the connection closed; nothing is stored', async () => {
    const s = await TestServer.start({ requestTimeoutMs: 1_000, idleTimeoutMs: 60_000 });
    try {
      const id = await s.createRecord('Leads');
      const before = await s.blobFiles();
      const { body, contentType } = multipart([{ name: 'file', filename: 'slow.bin', contentType: 'application/octet-stream', data: Buffer.alloc(100_000, 5) }]);
      const started = Date.now();
      const result = await rawExchange(
        s.url,
        async (sock) => {
          await write(sock, uploadHead(`/crm/v8/Leads/${id}/Attachments`, s.devToken, contentType, body.length));
          // A trickle that keeps the connection busy (so the idle bound never fires) but never finishes.
          for (let sent = 0; sent < 40 && !sock.destroyed; sent++) {
            await write(sock, body.subarray(sent * 100, sent * 100 + 100));
            await sleep(100);
          }
        },
        { timeoutMs: 10_000 },
      );
      expect(result.closed).toBe(true);
      expect(Date.now() - started).toBeLessThan(8_000);
      expectZohoError(result.response!, {
        status: 408,
        code: 'INVALID_REQUEST',
        message: 'the request body did not arrive in time',
        details: {},
      });
      await s.runtime.janitor.settled();
      expect(await s.blobFiles()).toEqual(before);
      expect((await s.api('GET', '/healthz')).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
