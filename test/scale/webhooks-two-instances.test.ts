/**
 * Two instances deliver one outbox: every event reaches the webhook exactly once, also when one instance restarts
 * in the middle, and the delivering is shared: each instance's metrics show attempts of its own, and the attempts of
 * all of them add up to the events. (postgres-s3 project only.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PreparedBackend, prepareBackend } from '../helpers/backend.js';
import { filePart } from '../helpers/multipart.js';
import { http } from '../helpers/server.js';
import { type SpawnedServer, spawnPair, spawnServer } from '../helpers/spawned-server.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const ADMIN_KEY = 'webhooks-two-instances-key-0123';
let dir: string;
let backend: PreparedBackend;
let env: Record<string, string>;
let a: SpawnedServer;
let b: SpawnedServer;
let receiver: WebhookReceiver;
let token: string;

const auth = () => ({ authorization: `Zoho-oauthtoken ${token}` });

/** The webhook attempts one instance made, by outcome, from its /metrics. */
async function attempts(s: SpawnedServer): Promise<Record<string, number>> {
  const text = (await http('GET', `${s.url}/metrics`)).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^crm_media_webhook_attempts_total\{outcome="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

async function admin(s: SpawnedServer, method: string, path: string, body?: unknown) {
  const res = await http(method, `${s.url}/_admin${path}`, {
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-hooks-'));
  backend = await prepareBackend(dir, 'postgres-s3');
  receiver = await WebhookReceiver.start();
  token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
  env = {
    ...backend.env,
    CRM_MEDIA_ADMIN_KEY: ADMIN_KEY,
    CRM_MEDIA_DEV_TOKEN: token,
    CRM_MEDIA_WEBHOOK_POLL_MS: '20',
    CRM_MEDIA_WEBHOOK_RETRY_BASE_MS: '50',
    CRM_MEDIA_WEBHOOK_RETRY_MAX_MS: '200',
  };
  [a, b] = await spawnPair([join(dir, 'a'), join(dir, 'b')], env);
  const org = (await admin(a, 'GET', '/orgs')).orgs[0].id;
  await admin(a, 'POST', `/orgs/${org}/workflows`, { name: 'count', module: 'Leads', event: 'attachment_added', url: receiver.url });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await receiver?.stop();
  await backend?.teardown();
  await rm(dir, { recursive: true, force: true });
});

describe('webhook delivery across two instances', () => {
  it('delivers each event exactly once while both poll the same outbox, even through a restart of one', async () => {
    const created = await http('POST', `${a.url}/crm/v8/Leads`, {
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ data: [{ Last_Name: 'Hooks' }] }),
    });
    const record = created.json.data[0].details.id as string;
    const ids: string[] = [];
    const upload = async (s: SpawnedServer, i: number) => {
      const { body, contentType } = filePart(`attachment ${i}`, `${i}.txt`, 'text/plain');
      const res = await http('POST', `${s.url}/crm/v8/Leads/${record}/Attachments`, { headers: { ...auth(), 'content-type': contentType }, body });
      expect(res.status).toBe(200);
      ids.push(res.json.data[0].details.id);
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => upload(i % 2 ? a : b, i)));
    // What the first A delivered, read before it stops (once the events so far are out).
    expect(await admin(a, 'GET', '/workflow-deliveries/wait?timeout_ms=30000')).toMatchObject({ pending: 0, settled: true });
    const firstA = await attempts(a);
    // Restart A (graceful: its attempts in flight finish) while events are being delivered.
    expect(await a.stop()).toBe(0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => upload(b, 20 + i)));
    a = await spawnServer({ args: ['--data', join(dir, 'a')], env });
    await Promise.all(Array.from({ length: 10 }, (_, i) => upload(a, 40 + i)));

    // Both instances share the outbox: once it has nothing pending, every attempt either made is over, so whatever
    // was sent (twice, were that wrong) has arrived. Asked of each instance, which see the same outbox.
    for (const s of [a, b]) expect(await admin(s, 'GET', '/workflow-deliveries/wait?timeout_ms=30000')).toMatchObject({ pending: 0, delivered: ids.length, failed: 0, settled: true });
    const delivered = receiver.deliveries.map((d) => d.json.attachment.id as string);
    expect(delivered.length).toBe(ids.length);
    expect([...delivered].sort()).toEqual([...ids].sort());
    expect(new Set(receiver.deliveries.map((d) => d.headers['x-crm-media-delivery'])).size).toBe(ids.length);

    // Both instances delivered: the first A before its restart, B while A was down.
    expect(firstA['delivered'], JSON.stringify(firstA)).toBeGreaterThan(0);
    expect((await attempts(b))['delivered']).toBeGreaterThan(0);

    // With both up again, the delivering is shared, and the attempts of the two are exactly the new events.
    const [aBefore, bBefore] = [await attempts(a), await attempts(b)];
    await Promise.all(Array.from({ length: 30 }, (_, i) => upload(i % 2 ? a : b, 50 + i)));
    for (const s of [a, b]) expect(await admin(s, 'GET', '/workflow-deliveries/wait?timeout_ms=30000')).toMatchObject({ pending: 0, settled: true });
    expect(receiver.deliveries.length).toBe(ids.length);
    expect(new Set(receiver.deliveries.map((d) => d.headers['x-crm-media-delivery'])).size).toBe(ids.length);
    const [aAfter, bAfter] = [await attempts(a), await attempts(b)];
    const byA = aAfter['delivered']! - (aBefore['delivered'] ?? 0);
    const byB = bAfter['delivered']! - (bBefore['delivered'] ?? 0);
    expect(byA, JSON.stringify({ aBefore, aAfter, bBefore, bAfter })).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(byA + byB).toBe(30);
    for (const o of [aAfter, bAfter]) expect([o['retry'], o['failed']]).toEqual([0, 0]);
  });
});
