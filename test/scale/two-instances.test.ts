/**
 * Two server processes on one PostgreSQL database and one S3 bucket behave as one server.
 * (Runs in the postgres-s3 project only.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore } from '../../src/storage/blobs/s3.js';
import { type PreparedBackend, prepareBackend } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { http } from '../helpers/server.js';
import { type SpawnedServer, spawnPair } from '../helpers/spawned-server.js';
import { expectZohoError } from '../helpers/zoho.js';

const ADMIN_KEY = 'two-instances-admin-key-0123';
const TOKEN_CACHE_TTL_MS = 1000;
let dir: string;
let backend: PreparedBackend;
let a: SpawnedServer;
let b: SpawnedServer;
let token: string;
let orgId: string;

const auth = (t: string) => ({ authorization: `Zoho-oauthtoken ${t}` });
const adminHeaders = { 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' };

async function admin(server: SpawnedServer, method: string, path: string, body?: unknown) {
  const res = await http(method, `${server.url}/_admin${path}`, {
    headers: adminHeaders,
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
  expect(res.status).toBe(201);
  return res.json.data[0].details.id;
}

async function uploadPhoto(server: SpawnedServer, record: string, image: Buffer) {
  const { body, contentType } = filePart(image, 'p.png', 'image/png');
  return http('POST', `${server.url}/crm/v8/Leads/${record}/photo`, { headers: { ...auth(token), 'content-type': contentType }, body });
}

function bucketStore(): S3BlobStore {
  const env = backend.env;
  return new S3BlobStore({
    bucket: env['CRM_MEDIA_S3_BUCKET']!,
    endpoint: env['CRM_MEDIA_S3_ENDPOINT']!,
    forcePathStyle: true,
    credentials: backend.s3!.credentials,
  });
}

async function bucketKeys(): Promise<string[]> {
  const store = bucketStore();
  try {
    const keys: string[] = [];
    for await (const blob of store.list()) keys.push(blob.key);
    return keys.sort();
  } finally {
    await store.close();
  }
}

async function referencedKeys(): Promise<string[]> {
  const db = new pg.Client({ connectionString: backend.env['DATABASE_URL'] });
  await db.connect();
  try {
    const r = await db.query(
      'select blob_key from photos union select blob_key from attachments where blob_key is not null',
    );
    return r.rows.map((row: { blob_key: string }) => row.blob_key).sort();
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-two-'));
  backend = await prepareBackend(dir, 'postgres-s3');
  token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
  const env = {
    ...backend.env,
    CRM_MEDIA_ADMIN_KEY: ADMIN_KEY,
    CRM_MEDIA_DEV_TOKEN: token,
    CRM_MEDIA_TOKEN_CACHE_TTL_MS: String(TOKEN_CACHE_TTL_MS),
    // The sweeps below are run on demand; grace 0 so that unreferenced blobs are eligible at once.
    CRM_MEDIA_SWEEP_INTERVAL_MS: '0',
    CRM_MEDIA_SWEEP_GRACE_MS: '0',
  };
  // Both start at once: migrations must be safe under concurrency.
  [a, b] = await spawnPair([join(dir, 'a'), join(dir, 'b')], env);
  orgId = (await admin(a, 'GET', '/orgs')).orgs[0].id;
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await backend?.teardown();
  await rm(dir, { recursive: true, force: true });
});

describe('two instances on one PostgreSQL + one bucket', () => {
  it('bootstrapped one org between them', async () => {
    expect((await admin(a, 'GET', '/orgs')).orgs).toHaveLength(1);
    expect((await admin(b, 'GET', '/orgs')).orgs).toHaveLength(1);
  });

  it('an upload through A downloads byte-identical through B', async () => {
    const record = await newRecord(a);
    const image = png(120, 80);
    expect((await uploadPhoto(a, record, image)).status).toBe(200);
    const got = await http('GET', `${b.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) });
    expect(got.status).toBe(200);
    expect(got.body.equals(image)).toBe(true);
  });

  it('a delete through B is seen by A at once', async () => {
    const record = await newRecord(b);
    expect((await uploadPhoto(b, record, png(10, 10))).status).toBe(200);
    expect((await http('GET', `${a.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) })).status).toBe(200);
    expect((await http('DELETE', `${b.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) })).status).toBe(200);
    expect((await http('GET', `${a.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) })).status).toBe(204);
  });

  it(`a token revoked through A stops working on both, on B within the cache bound (${TOKEN_CACHE_TTL_MS} ms)`, async () => {
    const user = (await admin(a, 'GET', `/orgs/${orgId}/users`)).users[0];
    const issued = await admin(a, 'POST', `/orgs/${orgId}/tokens`, { user: user.id });
    const t = issued.access_token as string;
    const record = await newRecord(a);
    const probe = (s: SpawnedServer) => http('GET', `${s.url}/crm/v8/Leads/${record}/photo`, { headers: auth(t) });
    expect((await probe(a)).status).toBe(204);
    expect((await probe(b)).status).toBe(204); // B has the token cached now
    await admin(a, 'DELETE', `/orgs/${orgId}/tokens/${issued.id}`);
    const revokedAt = Date.now();
    expectZohoError(await probe(a), { status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token' });
    // B may serve from its cache until the entry is older than the TTL; poll, bounded, until it refuses.
    let res = await probe(b);
    for (let i = 0; i < 60 && res.status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await probe(b);
    }
    expectZohoError(res, { status: 401, code: 'INVALID_TOKEN' });
    expect(Date.now() - revokedAt).toBeLessThan(TOKEN_CACHE_TTL_MS + 3000);
  });

  it('concurrent photo uploads to one record through A and B leave exactly one photo and, after the sweep, one blob', async () => {
    const record = await newRecord(a);
    const images = Array.from({ length: 12 }, (_, i) => png(20 + i, 20));
    const results = await Promise.all(images.map((img, i) => uploadPhoto(i % 2 ? a : b, record, img)));
    expect(results.map((r) => r.status)).toEqual(images.map(() => 200));
    const fromA = await http('GET', `${a.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) });
    const fromB = await http('GET', `${b.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) });
    expect(fromA.body.equals(fromB.body)).toBe(true);
    expect(images.some((img) => img.equals(fromA.body))).toBe(true);

    await Promise.all([admin(a, 'POST', '/sweep'), admin(b, 'POST', '/sweep')]);
    // No unreferenced blob is left: the bucket holds exactly the blobs the database points at.
    expect(await bucketKeys()).toEqual(await referencedKeys());
    const db = new pg.Client({ connectionString: backend.env['DATABASE_URL'] });
    await db.connect();
    try {
      const rows = await db.query('select count(*)::int as n from photos where record_id = $1', [record]);
      expect(rows.rows[0].n).toBe(1);
    } finally {
      await db.end();
    }
  });

  it('the orphan sweeper runs on both instances at once without harm', async () => {
    const record = await newRecord(b);
    const kept = png(33, 33);
    expect((await uploadPhoto(b, record, kept)).status).toBe(200);
    const store = bucketStore();
    try {
      const orphans = await Promise.all(Array.from({ length: 20 }, () => store.put(Readable.from([randomBytes(1000)]))));
      const [ra, rb] = await Promise.all([admin(a, 'POST', '/sweep'), admin(b, 'POST', '/sweep')]);
      expect(ra.removed + rb.removed).toBeGreaterThanOrEqual(orphans.length);
      for (const o of orphans) expect(await store.size(o.key)).toBeUndefined();
      expect(await bucketKeys()).toEqual(await referencedKeys());
      const got = await http('GET', `${a.url}/crm/v8/Leads/${record}/photo`, { headers: auth(token) });
      expect(got.body.equals(kept)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('answers health and readiness on both, and exposes metrics', async () => {
    for (const s of [a, b]) {
      expect((await http('GET', `${s.url}/healthz`)).json).toEqual({ status: 'ok' });
      expect((await http('GET', `${s.url}/readyz`)).json).toEqual({ status: 'ready', database: 'ok', blob_store: 'ok' });
      const metrics = (await http('GET', `${s.url}/metrics`)).text;
      expect(metrics).toMatch(/crm_media_http_requests_total\{route="photo.upload",method="POST",status="200"\} \d+/);
    }
  });
});
