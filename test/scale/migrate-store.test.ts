/**
 * `crm-media migrate-store`: a populated embedded store (SQLite + disk) copied to PostgreSQL + S3, then every blob
 * compared by hash and the migrated server serving the same answers. (postgres-s3 project only.)
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openBlobStore, openMetadataStore } from '../../src/runtime.js';
import type { BlobStore } from '../../src/domain/ports/blob-store.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { type PreparedBackend, prepareBackend } from '../helpers/backend.js';
import { bmp, gif, jpeg, png } from '../helpers/images.js';
import { filePart, multipart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { CLI } from '../helpers/spawned-server.js';

const run = promisify(execFile);

let source: TestServer;
let target: PreparedBackend;
/** `Module/id` → the photo uploaded, and the token of the record's org. */
const photos = new Map<string, { image: Buffer; token: string }>();
const files = new Map<string, Buffer>();
let lockedRecord = '';
/** `Module/id` → the token of the record's org. */
const tokens = new Map<string, string>();
/** An integration's OAuth client and the refresh token it holds. */
let integration: { clientId: string; clientSecret: string; refreshToken: string };

async function tokenEndpoint(url: string, params: Record<string, string>) {
  const res = await http('POST', `${url}/oauth/v2/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return res.json as Record<string, string>;
}

/** What the source holds besides records and media, read the same way from either store. */
async function configuration(store: MetadataStore) {
  const orgs = (await store.directory.listOrgs()).sort((a, b) => a.id.localeCompare(b.id));
  const perOrg = [];
  for (const org of orgs) {
    const events = await store.outbox.list(org.id, {}, { limit: 10_000, offset: 0 });
    perOrg.push({
      clients: await store.oauth.listClients(org.id),
      codes: await store.oauth.listGrantCodes(org.id),
      refreshTokens: await store.oauth.listRefreshTokens(org.id),
      accessTokens: await store.tokens.list(org.id),
      workflows: await store.workflows.list(org.id),
      events,
      attempts: await Promise.all(events.map((e) => store.outbox.listAttempts(e.id))),
      limits: await store.limits.getSettings(org.id),
    });
  }
  return { perOrg, faults: await store.faults.list() };
}

async function sha(store: BlobStore, key: string): Promise<string> {
  const r = await store.open(key);
  const h = createHash('sha256');
  for await (const c of r!.stream) h.update(c as Buffer);
  return h.digest('hex');
}

async function allMedia(store: MetadataStore) {
  const out: { kind: string; id: string; blobKey: string | null; sha256: string | null; size: number }[] = [];
  for (const org of await store.directory.listOrgs()) {
    for (const r of await store.records.listOfOrg(org.id, { limit: 10_000, offset: 0 })) {
      const p = await store.photos.get(org.id, r.id);
      if (p) out.push({ kind: 'photo', id: r.id, blobKey: p.blobKey, sha256: p.sha256, size: p.size });
      for (const a of await store.attachments.list(org.id, r.id, { limit: 10_000, offset: 0 })) {
        out.push({ kind: `attachment:${a.kind}`, id: a.id, blobKey: a.blobKey, sha256: a.sha256, size: a.size });
      }
    }
  }
  return out.sort((x, y) => `${x.kind}${x.id}`.localeCompare(`${y.kind}${y.id}`));
}

/** Credentials for the target bucket only: the source must come from the flags, not from DATABASE_URL. */
function s3Env(): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    AWS_ACCESS_KEY_ID: target.env['AWS_ACCESS_KEY_ID'],
    AWS_SECRET_ACCESS_KEY: target.env['AWS_SECRET_ACCESS_KEY'],
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

beforeAll(async () => {
  // Content hashes on, so that the copy is also checked against the hash recorded at upload.
  source = await TestServer.start({ contentHash: 'sha256' }, 'sqlite-disk');
  // State an integration depends on besides records: its OAuth client and refresh token, a workflow rule whose
  // deliveries (to a port nobody listens on) stay queued with their failed attempts, limits and a fault rule.
  const client = await source.admin('POST', `/orgs/${source.orgId}/oauth-clients`, { name: 'Integration', user: source.adminUserId });
  const code = await source.admin('POST', `/orgs/${source.orgId}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL' });
  const exchanged = await tokenEndpoint(source.url, { grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret, code: code.code });
  expect(exchanged['refresh_token']).toBeTruthy();
  integration = { clientId: client.client_id, clientSecret: client.client_secret, refreshToken: exchanged['refresh_token']! };
  await source.admin('POST', `/orgs/${source.orgId}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.Leads.READ' });
  await source.admin('POST', `/orgs/${source.orgId}/workflows`, { name: 'hook', module: 'Leads', event: 'photo_uploaded', url: 'http://127.0.0.1:9/hook', secret: 's3cret', active: true });
  await source.admin('PUT', `/orgs/${source.orgId}/limits`, { credits: 1_000_000 });
  await source.admin('POST', '/faults', { match: { operation: 'org.get' }, action: { delay_ms: 1 } });
  const images = [png(30, 20), jpeg(64, 48), gif(5, 5), bmp(7, 3), png(800, 600)];
  const other = await source.createOrg('Second', 'Asia/Kolkata');
  for (let i = 0; i < 12; i++) {
    const token = i % 3 === 2 ? other.adminToken : source.devToken;
    const id = await source.createRecord(i % 2 ? 'Contacts' : 'Leads', token);
    const module = i % 2 ? 'Contacts' : 'Leads';
    tokens.set(`${module}/${id}`, token);
    if (i % 4 !== 3) {
      const img = images[i % images.length]!;
      const { body, contentType } = filePart(img, `p${i}.img`, 'image/png');
      expect((await source.api('POST', `/crm/v8/${module}/${id}/photo`, { token, headers: { 'content-type': contentType }, body })).status).toBe(200);
      photos.set(`${module}/${id}`, { image: img, token });
    }
    for (let j = 0; j < (i % 3) + 1; j++) {
      const data = randomBytes(1000 + i * 997 + j);
      const { body, contentType } = filePart(data, `f${i}-${j}.bin`);
      const res = await source.api('POST', `/crm/v8/${module}/${id}/Attachments`, { token, headers: { 'content-type': contentType }, body });
      files.set(`${module}/${id}/${res.json.data[0].details.id}`, data);
    }
    const link = multipart([{ name: 'attachmentUrl', data: `https://example.test/${i}` }]);
    await source.api('POST', `/crm/v8/${module}/${id}/Attachments`, { token, headers: { 'content-type': link.contentType }, body: link.body });
    if (i === 4) {
      await source.setState(id, 'merge_in_progress', source.orgId);
      lockedRecord = `${module}/${id}`;
    }
  }
  await source.server.stop();
  target = await prepareBackend(source.dataDir, 'postgres-s3');
}, 120_000);

afterAll(async () => {
  await target?.teardown();
  await source?.stop().catch(() => {});
});

describe('migrate-store from SQLite + disk to PostgreSQL + S3', () => {
  it('copies everything and verifies every blob by hash', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        ...CLI,
        '--data',
        source.dataDir,
        'migrate-store',
        '--to-database',
        target.env['DATABASE_URL']!,
        '--to-s3-bucket',
        target.env['CRM_MEDIA_S3_BUCKET']!,
        '--to-s3-endpoint',
        target.env['CRM_MEDIA_S3_ENDPOINT']!,
        '--to-s3-force-path-style',
      ],
      { env: s3Env(), timeout: 120_000 },
    );
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ orgs: 2, records: 12, photos: photos.size, attachments: files.size + 12 });
    expect(report.verified).toBe(report.blobs);
    expect(report.blobs).toBe(photos.size + files.size);
    expect(report).toMatchObject({ oauthClients: 1, grantCodes: 2, refreshTokens: 1, workflowRules: 1, faultRules: 1 });
    expect(report.webhookEvents).toBeGreaterThan(0);

    // Independently of the command's own check: every row and every blob, source against target.
    const srcConfig = loadConfig({ dataDir: source.dataDir }, {});
    const dstConfig = loadConfig({ dataDir: source.dataDir, ...target.overrides }, {});
    const [srcStore, srcBlobs, dstStore, dstBlobs] = [
      await openMetadataStore(srcConfig),
      await openBlobStore(srcConfig),
      await openMetadataStore(dstConfig),
      await openBlobStore(dstConfig),
    ];
    try {
      const before = await allMedia(srcStore);
      const after = await allMedia(dstStore);
      expect(after.map(({ blobKey: _k, ...rest }) => rest)).toEqual(before.map(({ blobKey: _k, ...rest }) => rest));
      for (let i = 0; i < before.length; i++) {
        const b = before[i]!;
        const a = after[i]!;
        if (b.blobKey === null) continue;
        const srcHash = await sha(srcBlobs, b.blobKey);
        expect(srcHash).toBe(b.sha256);
        expect(await sha(dstBlobs, a.blobKey!)).toBe(srcHash);
      }
      expect((await dstStore.directory.listOrgs()).map((o) => o.id).sort()).toEqual((await srcStore.directory.listOrgs()).map((o) => o.id).sort());
      const copied = await configuration(dstStore);
      expect(copied).toEqual(await configuration(srcStore));
      expect(copied.perOrg.flatMap((o) => o.events).length).toBe(report.webhookEvents);
    } finally {
      for (const s of [srcBlobs, dstBlobs]) await s.close();
      for (const s of [srcStore, dstStore]) await s.close();
    }
  });

  it('refuses a target that already holds data', async () => {
    await expect(
      run(process.execPath, [...CLI, '--data', source.dataDir, 'migrate-store', '--to-database', target.env['DATABASE_URL']!, '--to-s3-bucket', target.env['CRM_MEDIA_S3_BUCKET']!, '--to-s3-endpoint', target.env['CRM_MEDIA_S3_ENDPOINT']!, '--to-s3-force-path-style'], {
        env: s3Env(),
        timeout: 60_000,
      }),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('already holds data') });
  });

  it('a server on the migrated stores answers as before: same tokens, same bytes, same states', async () => {
    const migrated = await TestServer.start({ ...target.overrides, devToken: source.devToken }, 'sqlite-disk');
    try {
      // The integration keeps refreshing with what it held before the move.
      const refreshed = await tokenEndpoint(migrated.url, {
        grant_type: 'refresh_token',
        client_id: integration.clientId,
        client_secret: integration.clientSecret,
        refresh_token: integration.refreshToken,
      });
      expect(refreshed['access_token'], JSON.stringify(refreshed)).toBeTruthy();
      const [path, photo] = [...photos].find(([p, v]) => p.startsWith('Leads/') && p !== lockedRecord && v.token === source.devToken)!;
      const withRefreshed = await http('GET', `${migrated.url}/crm/v8/${path}/photo`, { token: refreshed['access_token'] });
      expect(withRefreshed.status, withRefreshed.text).toBe(200);
      expect(withRefreshed.body.equals(photo.image)).toBe(true);
      for (const [path, { image, token }] of photos) {
        const res = await http('GET', `${migrated.url}/crm/v8/${path}/photo`, { token });
        if (path === lockedRecord) {
          expect(res.json.code).toBe('RECORD_LOCKED');
          continue;
        }
        expect(res.status).toBe(200);
        expect(res.body.equals(image)).toBe(true);
      }
      for (const [path, data] of files) {
        const [module, record, attachment] = path.split('/');
        const token = tokens.get(`${module}/${record}`)!;
        // Deleting through the migrated server proves the row arrived with its org, record and id.
        const res = await http('DELETE', `${migrated.url}/crm/v8/${module}/${record}/Attachments/${attachment}`, { token });
        expect(res.status, res.text).toBe(200);
        expect(res.json.data[0].details.id).toBe(attachment);
        expect(data.length).toBeGreaterThan(0);
      }
    } finally {
      await migrated.stop();
    }
  });
});
