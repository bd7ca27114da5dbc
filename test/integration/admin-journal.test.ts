/**
 * The request journal over the admin API (list with filters, count, clear, wait for N) and the wait for webhook
 * deliveries: what a test suite uses instead of sleeping. Counts are compared with what this client sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { expectZohoError } from '../helpers/zoho.js';

const KEY = 'test-admin-key-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ webhookPollMs: 50, webhookRetryBaseMs: 50, webhookRetryMaxMs: 100, webhookMaxAttempts: 2 });
});
afterAll(async () => {
  await server?.stop();
});

async function uploadPhoto(recordId: string, token = server.devToken) {
  const { body, contentType } = filePart(png(8, 8), 'p.png', 'image/png');
  return server.api('POST', `/crm/v8/Leads/${recordId}/photo`, { token, headers: { 'content-type': contentType }, body });
}

const journal = (query = '') => server.admin('GET', `/journal${query}`);
const count = async (query: string) => (await server.admin('GET', `/journal/count?${query}`)).count as number;

describe('listing and counting', () => {
  it('counts exactly what the client sent, per record and operation (WireMock-style verification)', async () => {
    const a = await server.createRecord();
    const b = await server.createRecord();
    for (let i = 0; i < 2; i++) expect((await uploadPhoto(a)).status).toBe(200);
    expect((await uploadPhoto(b)).status).toBe(200);
    await server.api('GET', `/crm/v8/Leads/${a}/photo`);
    expect(await count(`operation=photo.upload&record=${a}`)).toBe(2);
    expect(await count(`operation=photo.upload&record=${b}`)).toBe(1);
    expect(await count(`operation=photo.download&record=${a}&status=200`)).toBe(1);
    expect(await count(`operation=photo.upload&record=${a}&method=post&org=${server.orgId}&user=${server.adminUserId}`)).toBe(2);
  });

  it('lists newest first in the admin shape, with the Zoho code of refusals and never a token', async () => {
    const record = await server.createRecord();
    const locked = await server.createRecord();
    await server.setState(locked, 'merge_in_progress');
    await uploadPhoto(record);
    const refused = await uploadPhoto(locked);
    expect(refused.json.code).toBe('RECORD_LOCKED');
    const listed = await journal(`?record=${locked}&code=RECORD_LOCKED`);
    expect(listed.capacity).toBe(1000);
    expect(listed.entries).toHaveLength(1);
    expect(listed.entries[0]).toMatchObject({
      id: refused.headers['x-request-id'],
      method: 'POST',
      path: `/crm/v8/Leads/${locked}/photo`,
      operation: 'photo.upload',
      org_id: server.orgId,
      user_id: server.adminUserId,
      client_id: null,
      record_id: locked,
      status: 400,
      code: 'RECORD_LOCKED',
      marks: [],
    });
    expect(listed.entries[0].time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(listed.entries[0].bytes_in).toBeGreaterThan(0);
    const all = await journal('?limit=1000');
    const seqs = all.entries.map((e: any) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x: number, y: number) => y - x));
    expect(JSON.stringify(all)).not.toContain(server.devToken);
  });

  it('narrows by since, after and limit', async () => {
    const before = (await journal('?limit=1')).entries[0]?.seq ?? 0;
    const since = new Date().toISOString();
    const record = await server.createRecord();
    for (let i = 0; i < 3; i++) await server.api('GET', `/crm/v8/Leads/${record}/Attachments`);
    expect(await count(`after=${before}&operation=attachment.list`)).toBe(3);
    expect(await count(`since=${encodeURIComponent(since)}&operation=attachment.list&record=${record}`)).toBe(3);
    expect(await count(`since=${Date.now() + 60_000}`)).toBe(0);
    const two = await journal(`?after=${before}&operation=attachment.list&limit=2`);
    expect(two.entries).toHaveLength(2);
  });

  it.each([
    ['status', 'status=abc'],
    ['status', 'status=99'],
    ['since', 'since=yesterday'],
    ['after', 'after=-1'],
    ['limit', 'limit=0'],
  ])('refuses a bad %s with INVALID_DATA, naming it', async (name, query) => {
    const res = await http('GET', `${server.adminUrl}/_admin/journal?${query}`, { headers: { 'x-admin-key': KEY } });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect(res.json.details.param_name).toBe(name);
  });

  it('needs the admin key', async () => {
    for (const [method, path] of [
      ['GET', '/journal'],
      ['GET', '/journal/count'],
      ['DELETE', '/journal'],
      ['GET', '/journal/wait?count=1'],
      ['GET', '/workflow-deliveries/wait'],
    ] as const) {
      expectZohoError(await http(method, `${server.adminUrl}/_admin${path}`), { status: 401, code: 'AUTHENTICATION_FAILURE' });
    }
  });
});

describe('waiting for requests', () => {
  it('returns once N matching entries exist, counting those that arrive while it waits', async () => {
    const record = await server.createRecord();
    const wait = server.admin('GET', `/journal/wait?count=3&timeout_ms=30000&operation=record.get&record=${record}`);
    for (let i = 0; i < 3; i++) await server.api('GET', `/crm/v8/Leads/${record}`);
    expect(await wait).toEqual({ count: 3, wanted: 3, reached: true });
  });

  it('answers at once when enough entries are already there, and says so when the time runs out', async () => {
    const record = await server.createRecord();
    await server.api('GET', `/crm/v8/Leads/${record}`);
    expect(await server.admin('GET', `/journal/wait?count=1&timeout_ms=0&record=${record}`)).toEqual({ count: 1, wanted: 1, reached: true });
    expect(await server.admin('GET', `/journal/wait?count=2&timeout_ms=50&record=${record}`)).toEqual({ count: 1, wanted: 2, reached: false });
  });

  it('needs a count', async () => {
    const res = await http('GET', `${server.adminUrl}/_admin/journal/wait`, { headers: { 'x-admin-key': KEY } });
    expectZohoError(res, { status: 400, code: 'REQUIRED_PARAM_MISSING' });
  });
});

describe('clearing', () => {
  it('forgets every entry and says how many', async () => {
    await server.api('GET', '/crm/v8/org');
    const cleared = await server.admin('DELETE', '/journal');
    expect(cleared.cleared).toBeGreaterThan(0);
    expect(await count('')).toBe(0);
    await server.api('GET', '/crm/v8/org');
    expect(await count('operation=org.get')).toBe(1);
  });
});

describe('waiting for webhook deliveries', () => {
  it('returns once every pending delivery was delivered, or failed for good', async () => {
    const ok = await WebhookReceiver.start();
    const broken = await WebhookReceiver.start();
    broken.respond = () => 500;
    try {
      const org = await server.createOrg();
      for (const [event, url] of [
        ['photo_uploaded', ok.url],
        ['photo_deleted', broken.url],
      ] as const) {
        await server.admin('POST', `/orgs/${org.id}/workflows`, { name: event, module: 'Leads', event, url });
      }
      const record = await server.createRecord('Leads', org.adminToken);
      expect((await uploadPhoto(record, org.adminToken)).status).toBe(200);
      expect((await server.api('DELETE', `/crm/v8/Leads/${record}/photo`, { token: org.adminToken })).status).toBe(200);
      const settled = await server.admin('GET', `/workflow-deliveries/wait?org=${org.id}&timeout_ms=30000`);
      expect(settled).toEqual({ pending: 0, delivered: 1, failed: 1, settled: true });
      // Nothing was still on its way: the receivers already have every attempt.
      expect(ok.deliveries).toHaveLength(1);
      expect(broken.deliveries).toHaveLength(2);
      expect(await server.admin('GET', `/workflow-deliveries/counts?org=${org.id}`)).toEqual({ pending: 0, delivered: 1, failed: 1 });
    } finally {
      await ok.stop();
      await broken.stop();
    }
  });

  it('says when the time ran out with deliveries still pending', async () => {
    const s = await TestServer.start({ webhookRetryBaseMs: 60_000, webhookMaxAttempts: 5 });
    const down = await WebhookReceiver.start();
    await down.stop();
    try {
      await s.admin('POST', `/orgs/${s.orgId}/workflows`, { name: 'down', module: 'Leads', event: 'photo_uploaded', url: down.url });
      const record = await s.createRecord();
      const { body, contentType } = filePart(png(3, 3), 'p.png', 'image/png');
      expect((await s.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
      expect(await s.admin('GET', '/workflow-deliveries/wait?timeout_ms=300')).toEqual({ pending: 1, delivered: 0, failed: 0, settled: false });
    } finally {
      await s.stop();
    }
  });

  it('is ended by a shutdown rather than holding the server open', async () => {
    const s = await TestServer.start();
    const pending = http('GET', `${s.adminUrl}/_admin/journal/wait?count=5&timeout_ms=120000`, { headers: { 'x-admin-key': KEY } });
    // The wait is registered once the server has read the request; any later request proves that.
    await s.admin('GET', '/journal/count');
    await s.stop();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ wanted: 5, reached: false });
  });
});

describe('a server with the journal off', () => {
  it('lists nothing and says why a wait cannot succeed', async () => {
    const s = await TestServer.start({ journalSize: 0 });
    try {
      await s.api('GET', '/crm/v8/org');
      expect(await s.admin('GET', '/journal')).toEqual({ capacity: 0, entries: [] });
      expect(await s.admin('GET', '/journal/wait?count=1&timeout_ms=10')).toMatchObject({ count: 0, reached: false });
    } finally {
      await s.stop();
    }
  });
});
