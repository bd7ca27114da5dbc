/**
 * Two server processes on one PostgreSQL database share one credit budget and one concurrency count, see each other's
 * fault rules, and free the slots of an instance that died holding them (docs/deployment.md, "Limits across
 * instances"). Runs in the postgres-s3 project only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PreparedBackend, prepareBackend } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { http } from '../helpers/server.js';
import { heldUpload } from '../helpers/slow-upload.js';
import { type SpawnedServer, spawnPair } from '../helpers/spawned-server.js';
import { eventually } from '../helpers/uploads.js';

const ADMIN_KEY = 'limits-two-instances-admin-key';
const CACHE_TTL_MS = 500;
let dir: string;
let backend: PreparedBackend;
let a: SpawnedServer;
let b: SpawnedServer;
let token: string;
let orgId: string;

const auth = (t: string) => ({ authorization: `Zoho-oauthtoken ${t}` });

async function admin(server: SpawnedServer, method: string, path: string, body?: unknown) {
  const res = await http(method, `${server.url}/_admin${path}`, {
    headers: { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

async function newRecord(server: SpawnedServer): Promise<string> {
  const res = await http('POST', `${server.url}/crm/v8/Leads`, {
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: JSON.stringify({ data: [{ Last_Name: 'Shared' }] }),
  });
  expect(res.status, res.text).toBe(201);
  return res.json.data[0].details.id;
}

const inFlight = async () => ((await admin(a, 'GET', `/orgs/${orgId}/limits`)).usage.in_flight as { count: number }[]).reduce((n, f) => n + f.count, 0);
const settle = () => new Promise((r) => setTimeout(r, CACHE_TTL_MS + 300));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-limits-two-'));
  backend = await prepareBackend(dir, 'postgres-s3');
  token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
  [a, b] = await spawnPair([join(dir, 'a'), join(dir, 'b')], {
    ...backend.env,
    CRM_MEDIA_ADMIN_KEY: ADMIN_KEY,
    CRM_MEDIA_DEV_TOKEN: token,
    CRM_MEDIA_TOKEN_CACHE_TTL_MS: String(CACHE_TTL_MS),
    CRM_MEDIA_CONTROL_POLL_MS: '200',
    CRM_MEDIA_SWEEP_INTERVAL_MS: '0',
  });
  orgId = (await admin(a, 'GET', '/orgs')).orgs[0].id;
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await backend?.teardown();
  await rm(dir, { recursive: true, force: true });
});

describe('limits shared by two instances on one PostgreSQL', () => {
  it('one credit budget: 40 calls spread over both, 25 credits, exactly 25 answered', async () => {
    await admin(a, 'PUT', `/orgs/${orgId}/limits`, { credits: 25 });
    await settle();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => http('GET', `${(i % 2 ? a : b).url}/crm/v8/org`, { headers: auth(token) })));
    expect(results.filter((r) => r.status === 200), JSON.stringify(results.filter((r) => r.status !== 200).map((r) => r.text))).toHaveLength(25);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
    expect((await admin(b, 'GET', `/orgs/${orgId}/limits`)).usage).toMatchObject({ credits_used: 25, credits_remaining: 0 });
    await admin(b, 'DELETE', `/orgs/${orgId}/limits`);
    await settle();
  });

  it('one concurrency count; the slots of an instance killed while holding them come back after its lease', async () => {
    const image = png(12, 12);
    const records: string[] = [];
    for (let i = 0; i < 4; i++) records.push(await newRecord(a));
    await admin(a, 'PUT', `/orgs/${orgId}/limits`, { concurrency: 2 });
    await settle();
    const onA = heldUpload(`${a.url}/crm/v8/Leads/${records[0]}/photo`, token, image.subarray(0, 8), image.subarray(8));
    const onB = heldUpload(`${b.url}/crm/v8/Leads/${records[1]}/photo`, token, image.subarray(0, 8), image.subarray(8));
    await Promise.all([onA.waiting, onB.waiting]);
    expect(await eventually(inFlight, (n) => n === 2)).toBe(2);
    const third = await http('GET', `${a.url}/crm/v8/org`, { headers: auth(token) });
    expect(third.status).toBe(429);
    expect(third.json.code).toBe('TOO_MANY_REQUESTS');

    // B dies holding a slot: no response ends, no slot is given back by B. A frees it once B's lease has expired
    // (15 s after B's last heartbeat).
    b.process.kill('SIGKILL');
    expect(await onB.response).toBeInstanceOf(Error);
    const freedAt = Date.now();
    expect(await eventually(inFlight, (n) => n === 1, 30_000, 250)).toBe(1);
    expect(Date.now() - freedAt).toBeLessThan(25_000);
    expect((await http('GET', `${a.url}/crm/v8/org`, { headers: auth(token) })).status).toBe(200);
    onA.finish();
    expect(((await onA.response) as { status: number }).status).toBe(200);
    expect(await eventually(inFlight, (n) => n === 0)).toBe(0);
  });
});
