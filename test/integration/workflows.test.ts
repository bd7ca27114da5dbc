/**
 * Workflow rules: events queued in the change's transaction, delivered to a loopback webhook, signed, retried with
 * backoff, recorded, durable across restarts; `restrict_triggers=workflow` fires nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gif, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer } from '../helpers/server.js';
import { WebhookReceiver, verifySignature } from '../helpers/webhook-receiver.js';
import { expectZohoError } from '../helpers/zoho.js';

const FAST = { webhookPollMs: 50, webhookRetryBaseMs: 50, webhookRetryMaxMs: 200, webhookTimeoutMs: 2_000, webhookMaxAttempts: 3 };
const SECRET = 'shared-webhook-secret';

let server: TestServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  server = await TestServer.start({ ...FAST, timeZone: 'Asia/Kolkata' });
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  await server?.stop();
  await receiver?.stop();
});

async function rule(module: string, event: string, extra: Record<string, unknown> = {}, org = server.orgId, url = receiver.url) {
  return server.admin('POST', `/orgs/${org}/workflows`, { name: `${module} ${event}`, module, event, url, ...extra });
}

async function uploadPhoto(module: string, id: string, image: Buffer, query = '') {
  const { body, contentType } = filePart(image, 'p.png', 'image/png');
  return server.api('POST', `/crm/v8/${module}/${id}/photo${query}`, { headers: { 'content-type': contentType }, body });
}

async function uploadAttachment(module: string, id: string, text: string) {
  const { body, contentType } = filePart(text, 'a.txt', 'text/plain');
  return server.api('POST', `/crm/v8/${module}/${id}/Attachments`, { headers: { 'content-type': contentType }, body });
}

/**
 * Returns once no delivery is pending (each delivered or failed for good): what arrived then is all that will
 * arrive, so "nothing arrived" is not just "not yet". The admin API's wait, instead of sleeping.
 */
async function settled(s: TestServer = server): Promise<{ pending: number; delivered: number; failed: number }> {
  const r = await s.admin('GET', '/workflow-deliveries/wait?timeout_ms=30000');
  if (!r.settled) throw new Error(`deliveries still pending after 30 s: ${JSON.stringify(r)}`);
  return r;
}

describe('rules and their events', () => {
  it('delivers a signed photo_uploaded event with the documented payload and headers', async () => {
    await rule('Contacts', 'photo_uploaded', { secret: SECRET });
    const id = await server.createRecord('Contacts');
    const image = png(21, 13);
    expect((await uploadPhoto('Contacts', id, image)).status).toBe(200);
    await settled();
    const [d] = receiver.byEvent('photo_uploaded').filter((x) => x.json.record_id === id);
    expect(d!.headers['content-type']).toBe('application/json');
    expect(d!.headers['x-crm-media-attempt']).toBe('1');
    expect(d!.headers['x-crm-media-delivery']).toBe(d!.json.id);
    expect(verifySignature(d!.headers['x-crm-media-signature'] as string, SECRET, d!.body)).toBe(true);
    expect(verifySignature(d!.headers['x-crm-media-signature'] as string, 'wrong', d!.body)).toBe(false);
    expect(d!.json).toMatchObject({
      event: 'photo_uploaded',
      org_id: server.orgId,
      module: 'Contacts',
      record_id: id,
      user: { id: server.adminUserId, name: 'Admin User', email: 'admin@crm-media.local' },
      photo: { file_name: 'p.png', content_type: 'image/png', size: image.length, width: 21, height: 13 },
    });
    expect(d!.json.occurred_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30$/);
    expect(d!.json.id).toMatch(/^\d{19}$/);
  });

  it('fires nothing for a photo upload with restrict_triggers=workflow, and nothing for a rejected upload', async () => {
    await rule('Accounts', 'photo_uploaded');
    const id = await server.createRecord('Accounts', server.devToken, { Account_Name: 'Zylker' });
    const before = receiver.deliveries.length;
    expect((await uploadPhoto('Accounts', id, png(5, 5), '?restrict_triggers=workflow')).status).toBe(200);
    const bad = await uploadPhoto('Accounts', id, Buffer.from('<svg/>'));
    expectZohoError(bad, { status: 400, code: 'INVALID_DATA' });
    await settled();
    expect(receiver.deliveries.slice(before).filter((d) => d.json.record_id === id)).toEqual([]);
    const queued = await server.admin('GET', `/orgs/${server.orgId}/workflow-deliveries`);
    expect(queued.deliveries.filter((x: any) => x.payload.record_id === id)).toEqual([]);
    // Without the parameter the same rule fires.
    expect((await uploadPhoto('Accounts', id, gif(3, 3))).status).toBe(200);
    await settled();
    expect(receiver.byEvent('photo_uploaded').filter((x) => x.json.record_id === id)).toHaveLength(1);
  });

  it('delivers photo_deleted, attachment_added and attachment_deleted (once per id of a bulk delete)', async () => {
    for (const e of ['photo_deleted', 'attachment_added', 'attachment_deleted']) await rule('Vendors', e);
    const id = await server.createRecord('Vendors', server.devToken, { Vendor_Name: 'V' });
    await uploadPhoto('Vendors', id, png(4, 4));
    expect((await server.api('DELETE', `/crm/v8/Vendors/${id}/photo`)).status).toBe(200);
    const a1 = (await uploadAttachment('Vendors', id, 'one')).json.data[0].details.id;
    const a2 = (await uploadAttachment('Vendors', id, 'two')).json.data[0].details.id;
    const a3 = (await uploadAttachment('Vendors', id, 'three')).json.data[0].details.id;
    expect((await server.api('DELETE', `/crm/v8/Vendors/${id}/Attachments/${a1}`)).status).toBe(200);
    expect((await server.api('DELETE', `/crm/v8/Vendors/${id}/Attachments?ids=${a2},${a3},123`)).status).toBe(200);
    const mine = (e: string) => receiver.byEvent(e).filter((d) => d.json.record_id === id);
    await settled();
    expect([mine('photo_deleted').length, mine('attachment_added').length, mine('attachment_deleted').length]).toEqual([1, 3, 3]);
    expect(mine('attachment_added').map((d) => d.json.attachment.id).sort()).toEqual([a1, a2, a3].sort());
    expect(mine('attachment_deleted').map((d) => d.json.attachment.id).sort()).toEqual([a1, a2, a3].sort());
    expect(mine('attachment_added')[0]!.json.attachment).toMatchObject({ kind: 'file', file_name: 'a.txt', size: 3 });
    expect(mine('photo_deleted')[0]!.json.photo).toMatchObject({ content_type: 'image/png', width: 4, height: 4 });
  });

  it('fires only matching rules: other modules, other events and inactive rules stay silent', async () => {
    await rule('Products', 'photo_deleted');
    await rule('Products', 'photo_uploaded', { active: false });
    const id = await server.createRecord('Products', server.devToken, { Product_Name: 'P' });
    const before = receiver.deliveries.length;
    expect((await uploadPhoto('Products', id, png(6, 6))).status).toBe(200);
    expect((await uploadAttachment('Products', id, 'x')).status).toBe(200);
    await settled();
    expect(receiver.deliveries.slice(before).filter((d) => d.json.record_id === id)).toEqual([]);
  });

  it('refuses invalid rules with Zoho-shaped errors', async () => {
    const post = (body: unknown) =>
      server.api('POST', `/_admin/orgs/${server.orgId}/workflows`, {
        token: null,
        headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const bad of [
      { name: 'x', module: 'Leads', event: 'record_created', url: receiver.url },
      { name: 'x', module: 'Leadz', event: 'photo_uploaded', url: receiver.url },
      { name: 'x', module: 'Leads', event: 'photo_uploaded', url: 'ftp://example.test/' },
      { name: 'x', module: 'Leads', event: 'photo_uploaded', url: 'not a url' },
    ]) {
      expectZohoError(await post(bad), { status: 400, code: 'INVALID_DATA' });
    }
  });
});

describe('delivery: retries, failures, records', () => {
  it('retries with backoff until the receiver accepts, with the same delivery id, recording every attempt', async () => {
    const id = await server.createRecord('Leads');
    await rule('Leads', 'attachment_added', { secret: SECRET });
    let failuresLeft = 2;
    receiver.respond = (d) => (d.json?.record_id === id && failuresLeft-- > 0 ? 503 : 200);
    try {
      await uploadAttachment('Leads', id, 'retry me');
      await settled();
    } finally {
      receiver.respond = () => 200;
    }
    const tries = receiver.deliveries.filter((d) => d.json?.record_id === id);
    expect(tries.map((d) => d.headers['x-crm-media-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(tries.map((d) => d.headers['x-crm-media-delivery'])).size).toBe(1);
    // Exponential: the second wait is longer than the first (base 50 ms, jitter ±10 %).
    const gap1 = tries[1]!.receivedAt - tries[0]!.receivedAt;
    const gap2 = tries[2]!.receivedAt - tries[1]!.receivedAt;
    expect(gap1).toBeGreaterThanOrEqual(40);
    expect(gap2).toBeGreaterThanOrEqual(80);
    const record = await deliveryOf(tries[0]!.json.id, 'delivered');
    expect(record.attempts).toBe(3);
    expect(record.attempt_log.map((a: any) => a.status_code)).toEqual([503, 503, 200]);
    expect(record.attempt_log.map((a: any) => a.error)).toEqual(['HTTP 503', 'HTTP 503', null]);
  });

  it('gives up after the maximum attempts and lists the failure', async () => {
    const id = await server.createRecord('Leads');
    await rule('Leads', 'photo_uploaded', {}, server.orgId, `${receiver.url}/broken`);
    receiver.respond = (d) => (d.json?.record_id === id ? 500 : 200);
    try {
      await uploadPhoto('Leads', id, png(7, 7));
      await settled();
      // Nothing is pending any more: the event failed for good after the last attempt, and none follows it.
      expect(receiver.deliveries.filter((d) => d.json?.record_id === id)).toHaveLength(FAST.webhookMaxAttempts);
      const eventId = receiver.deliveries.find((d) => d.json?.record_id === id)!.json.id;
      const failed = await deliveryOf(eventId, 'failed');
      expect(failed).toMatchObject({ status: 'failed', attempts: FAST.webhookMaxAttempts, last_error: 'HTTP 500' });
    } finally {
      receiver.respond = () => 200;
    }
  });

  /** The delivery record of a settled event, listed under its final status. */
  async function deliveryOf(eventId: string, status: string): Promise<any> {
    const list = await server.admin('GET', `/orgs/${server.orgId}/workflow-deliveries?status=${status}`);
    const found = list.deliveries.find((x: any) => x.id === eventId);
    if (!found) throw new Error(`event ${eventId} is not ${status}`);
    return found;
  }
});

describe('durability', () => {
  it('keeps queued events across a restart and delivers each exactly once afterwards', async () => {
    const s = await TestServer.start({ ...FAST, webhookMaxAttempts: 100, webhookRetryMaxMs: 100 });
    const down = await WebhookReceiver.start();
    const downUrl = down.url;
    await down.stop(); // nothing listens there now: deliveries fail and stay pending
    try {
      await s.admin('POST', `/orgs/${s.orgId}/workflows`, { name: 'r', module: 'Leads', event: 'attachment_added', url: downUrl });
      const id = await s.createRecord('Leads');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { body, contentType } = filePart(`n${i}`, `${i}.txt`, 'text/plain');
        ids.push((await s.api('POST', `/crm/v8/Leads/${id}/Attachments`, { headers: { 'content-type': contentType }, body })).json.data[0].details.id);
      }
      await s.server.stop();
      // The receiver comes back on the same port while the server is down; the server comes back too.
      const port = Number(new URL(downUrl).port);
      const back = await startReceiverOn(port);
      try {
        await s.restart();
        expect(await settled(s)).toMatchObject({ pending: 0, delivered: 5, failed: 0 });
        const seen = back.deliveries.map((d) => d.json.attachment.id);
        expect(seen.sort()).toEqual([...ids].sort());
      } finally {
        await back.stop();
      }
    } finally {
      await s.stop();
    }
  });
});

async function startReceiverOn(port: number): Promise<WebhookReceiver> {
  // WebhookReceiver picks a free port; here the test needs a given one, so retry until the port is free again.
  for (let i = 0; i < 50; i++) {
    try {
      return await WebhookReceiver.startOn(port);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`port ${port} stayed busy`);
}
