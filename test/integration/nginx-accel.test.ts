/**
 * Downloads handed to nginx (CRM_MEDIA_ACCEL_REDIRECT, disk store; docs/deployment.md "Behind nginx"). First what
 * crm-media answers itself (the X-Accel-Redirect and X-Accel-Expires headers, how long retired bytes stay), then the
 * documented nginx site, run by a real nginx in front of a real server: bytes, headers, ranges, HEAD, Zoho errors
 * passed through, uploads streamed past it, authorizations reused for no longer than CRM_MEDIA_ACCEL_CACHE_SECONDS,
 * and no nginx error page while a photo is replaced under it.
 *
 * nginx comes from Debian's package (`bash bench/setup.sh nginx`, run by .ci/run). Without it the nginx part is
 * skipped, loudly, except under CI=true, where a missing nginx is a failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
// The same text the bench runs and docs/deployment.md prints (test/unit/nginx-docs.test.ts keeps the docs in step).
import { ACCEL_PREFIX, STANDALONE_DIRS, crmMediaNginxSite, nginxBinary, standaloneNginxConf } from '../../bench/lib/nginx-conf.mjs';
import { pad, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer, http } from '../helpers/server.js';
import { freePort } from '../helpers/spawned-server.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const CI = ['1', 'true'].includes((process.env['CI'] ?? '').toLowerCase());
const NGINX = nginxBinary();
if (BACKEND === 'sqlite-disk' && !NGINX) {
  if (CI) throw new Error('nginx is missing: .ci/run installs it (bash bench/setup.sh nginx); under CI=true this is a failure');
  process.stderr.write('\n*** nginx is not installed: the nginx part of nginx-accel.test.ts is SKIPPED (bash bench/setup.sh nginx installs it)\n\n');
}

const photoA = pad(png(40, 30), 30 * 1024);
const photoB = pad(png(41, 30), 50 * 1024);
const photoPath = (record: string) => `/crm/v8/Leads/${record}/photo`;

async function uploadPhoto(origin: string, token: string, record: string, bytes: Buffer): Promise<HttpResponse> {
  const b = filePart(bytes, 'face.png', 'image/png');
  return http('POST', `${origin}${photoPath(record)}`, { token, headers: { 'content-type': b.contentType }, body: b.body });
}

/** Downloads crm-media itself has answered (photos and attachments), from its metrics. */
async function downloadsAnswered(server: TestServer): Promise<number> {
  const text = (await http('GET', `${server.url}/metrics`)).text;
  let n = 0;
  for (const line of text.split('\n')) {
    if (/^crm_media_http_requests_total\{route="(photo|attachment)\.download"/.test(line)) n += Number(line.split(' ').pop());
  }
  return n;
}

/** A record whose photo A was replaced by B through `srv` (hand-off on); `old` is A's file, `replacedAt` when B was sent. */
async function replacePhoto(srv: TestServer): Promise<{ record: string; old: string; replacedAt: number }> {
  const record = await srv.createRecord();
  expect((await uploadPhoto(srv.url, srv.devToken, record, photoA)).status).toBe(200);
  const accel = String((await srv.api('GET', photoPath(record))).headers['x-accel-redirect']);
  const replacedAt = Date.now();
  expect((await uploadPhoto(srv.url, srv.devToken, record, photoB)).status).toBe(200);
  return { record, old: join(srv.dataDir, 'blobs', accel.slice(ACCEL_PREFIX.length)), replacedAt };
}

describe.skipIf(BACKEND !== 'sqlite-disk')('crm-media with CRM_MEDIA_ACCEL_REDIRECT', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({ accelRedirect: ACCEL_PREFIX, accelCacheSeconds: 3 });
  });
  afterAll(() => server?.stop());

  it('answers a download with the blob path and how long nginx may reuse the authorization, and no body', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(server.url, server.devToken, record, photoA)).status).toBe(200);
    const res = await server.api('GET', photoPath(record));
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    const accel = String(res.headers['x-accel-redirect']);
    expect(accel).toMatch(/^\/_protected\/[0-9a-f]{2}\/[^/]+$/);
    expect(res.headers['x-accel-expires']).toBe('3');
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['content-disposition']).toBe('attachment; filename="face.png"');
    // The path names the stored file, under the data directory's blobs/.
    expect((await readFile(join(server.dataDir, 'blobs', accel.slice(ACCEL_PREFIX.length)))).equals(photoA)).toBe(true);
  });

  it('keeps errors and records without a photo as they are: no hand-off, nothing for nginx to reuse', async () => {
    const record = await server.createRecord();
    const none = await server.api('GET', photoPath(record));
    expect(none.status).toBe(204);
    expect(none.headers['x-accel-redirect']).toBeUndefined();
    expect(none.headers['x-accel-expires']).toBeUndefined();
    const bad = await server.api('GET', photoPath(record), { token: `1000.${'0'.repeat(32)}.${'0'.repeat(32)}` });
    expectZohoError(bad, { status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token', details: {} });
    expect(bad.headers['x-accel-expires']).toBeUndefined();
    // A range past the end is refused here, in Zoho's shape, before any hand-off.
    expect((await uploadPhoto(server.url, server.devToken, record, photoA)).status).toBe(200);
    const past = await server.api('GET', photoPath(record), { headers: { range: `bytes=${photoA.length}-` } });
    expectZohoError(past, { status: 416, code: 'INVALID_DATA', message: 'the requested range is not satisfiable', details: { size: photoA.length } });
    expect(past.headers['x-accel-redirect']).toBeUndefined();
    expect((await server.api('GET', photoPath(record), { headers: { range: 'bytes=0-9' } })).headers['x-accel-redirect']).toBeDefined();
  });

  it('removes a replaced photo\'s bytes only after nginx may have stopped reusing its authorization', async () => {
    const { old, replacedAt } = await replacePhoto(server);
    // Reuse lasts up to CRM_MEDIA_ACCEL_CACHE_SECONDS + 1 s (nginx counts whole seconds); the bytes stay a second more.
    const exists = () => access(old).then(() => true, () => false);
    for (let i = 0; i < 150 && (await exists()); i++) await sleep(100);
    const removedAfter = Date.now() - replacedAt;
    expect(await exists()).toBe(false);
    expect(removedAfter).toBeGreaterThanOrEqual(5_000);
  });

  it('stops without waiting out the hand-off delay, and leaves those bytes for the orphan sweeper', async () => {
    const srv = await TestServer.start({ accelRedirect: ACCEL_PREFIX, accelCacheSeconds: 30 });
    try {
      const { old } = await replacePhoto(srv);
      const stopping = Date.now();
      await srv.server.stop();
      expect(Date.now() - stopping).toBeLessThan(20_000);
      expect((await readFile(old)).equals(photoA)).toBe(true);
    } finally {
      await srv.backend.teardown();
      await rm(srv.dataDir, { recursive: true, force: true });
    }
  });

  it('keeps held bytes from the orphan sweeper, and an admin sweep does not wait for them', async () => {
    const srv = await TestServer.start({ accelRedirect: ACCEL_PREFIX, accelCacheSeconds: 30, sweepGraceMs: 0 });
    try {
      const { record, old } = await replacePhoto(srv);
      const sweeping = Date.now();
      const swept = await srv.admin('POST', '/sweep');
      expect(Date.now() - sweeping).toBeLessThan(10_000);
      expect(swept.removed).toBe(0);
      expect((await readFile(old)).equals(photoA)).toBe(true);
      expect((await srv.api('GET', photoPath(record))).headers['x-accel-redirect']).toBeDefined();
    } finally {
      await srv.stop();
    }
  });

  it('refuses reuse without a hand-off to nginx, and reuse beyond a minute', () => {
    expect(() => loadConfig({ accelCacheSeconds: 1 }, {})).toThrow(ConfigError);
    expect(() => loadConfig({}, { CRM_MEDIA_ACCEL_REDIRECT: ACCEL_PREFIX, CRM_MEDIA_ACCEL_CACHE_SECONDS: '61' })).toThrow(/CRM_MEDIA_ACCEL_CACHE_SECONDS/);
    expect(loadConfig({}, { CRM_MEDIA_ACCEL_REDIRECT: ACCEL_PREFIX, CRM_MEDIA_ACCEL_CACHE_SECONDS: '2' }).accelCacheSeconds).toBe(2);
  });

  it('sends X-Accel-Expires: 0 when reuse is off, so an nginx cache stores nothing', async () => {
    const off = await TestServer.start({ accelRedirect: ACCEL_PREFIX });
    try {
      const record = await off.createRecord();
      expect((await uploadPhoto(off.url, off.devToken, record, photoA)).status).toBe(200);
      const res = await off.api('GET', photoPath(record));
      expect(res.headers['x-accel-redirect']).toBeDefined();
      expect(res.headers['x-accel-expires']).toBe('0');
    } finally {
      await off.stop();
    }
  });
});

/** nginx in the foreground with the documented site in front of `server`; stopped by `stop()`. */
async function startNginx(server: TestServer): Promise<{ origin: string; stop(): Promise<void> }> {
  const prefix = join(server.dataDir, 'nginx');
  for (const d of STANDALONE_DIRS) mkdirSync(join(prefix, d), { recursive: true });
  const port = await freePort();
  const site = crmMediaNginxSite({
    listen: `127.0.0.1:${port}`,
    upstreams: [new URL(server.url).host],
    blobsDir: join(server.dataDir, 'blobs'),
    cacheDir: join(prefix, 'authorizations'),
  });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, standaloneNginxConf({ prefix, site }));
  const check = spawnSync(NGINX!, ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t: ${check.stderr}`);
  const child: ChildProcess = spawn(NGINX!, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { stdio: 'ignore' });
  const origin = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    up = await http('GET', `${origin}/crm/v8/Leads`).then(() => true, () => false);
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    if (!up) await sleep(50);
  }
  if (!up) throw new Error(`nginx did not answer on ${origin} within 5 s`);
  return {
    origin,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe.skipIf(BACKEND !== 'sqlite-disk' || !NGINX)('the documented nginx site in front of crm-media', () => {
  const REUSE_S = 1;
  let server: TestServer;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let origin: string;
  beforeAll(async () => {
    server = await TestServer.start({ accelRedirect: ACCEL_PREFIX, accelCacheSeconds: REUSE_S });
    nginx = await startNginx(server);
    origin = nginx.origin;
  });
  afterAll(async () => {
    await nginx?.stop();
    await server?.stop();
  });

  const get = (path: string, opts: { token?: string | null; headers?: Record<string, string>; method?: string } = {}) =>
    http(opts.method ?? 'GET', `${origin}${path}`, { token: opts.token === undefined ? server.devToken : opts.token, headers: opts.headers ?? {} });

  it('sends the photo with its type, name and length; a second download reuses the authorization', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(origin, server.devToken, record, photoA)).status).toBe(200);
    const before = await downloadsAnswered(server);
    const first = await get(photoPath(record));
    expect(first.status).toBe(200);
    expect(first.body.equals(photoA)).toBe(true);
    expect(first.headers['content-type']).toBe('image/png');
    expect(first.headers['content-disposition']).toBe('attachment; filename="face.png"');
    expect(first.headers['content-length']).toBe(String(photoA.length));
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['x-accel-redirect']).toBeUndefined();
    const second = await get(photoPath(record));
    expect(second.body.equals(photoA)).toBe(true);
    expect(second.headers['content-type']).toBe('image/png');
    expect(second.headers['content-disposition']).toBe('attachment; filename="face.png"');
    expect(await downloadsAnswered(server)).toBe(before + 1);
    // Every API version's URL is a download URL to nginx (v2.1 included).
    const older = await get(`/crm/v2.1/Leads/${record}/photo`);
    expect(older.body.equals(photoA)).toBe(true);
    expect(await get(`/crm/v2.1/Leads/${record}/photo`).then((r) => r.status)).toBe(200);
    expect(await downloadsAnswered(server)).toBe(before + 2);
  });

  it('serves ranges and HEAD from the file', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(origin, server.devToken, record, photoA)).status).toBe(200);
    const part = await get(photoPath(record), { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${photoA.length}`);
    expect(part.body.equals(photoA.subarray(100, 200))).toBe(true);
    // Past the end: nginx's 416 with crm-media's status and Content-Range (its body is nginx's, docs/deployment.md);
    // several ranges: the whole file, as without nginx.
    const past = await get(photoPath(record), { headers: { range: `bytes=${photoA.length + 10}-` } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${photoA.length}`);
    const several = await get(photoPath(record), { headers: { range: 'bytes=0-9,20-29' } });
    expect(several.status).toBe(200);
    expect(several.body.equals(photoA)).toBe(true);
    const head = await get(photoPath(record), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(photoA.length));
    expect(head.body.length).toBe(0);
  });

  it('passes crm-media\'s own answers through: Zoho errors, no photo, link attachments', async () => {
    const record = await server.createRecord();
    expectZohoError(await get(photoPath(record), { token: null }), {
      status: 401,
      code: 'AUTHENTICATION_FAILURE',
      message: 'Authentication failed',
      details: {},
    });
    expectZohoError(await get(photoPath(record), { token: `1000.${'0'.repeat(32)}.${'0'.repeat(32)}` }), {
      status: 401,
      code: 'INVALID_TOKEN',
      message: 'invalid oauth token',
      details: {},
    });
    expect((await get(photoPath(record))).status).toBe(204);
    const wrongId = await get(photoPath('12x'));
    expect(wrongId.status).toBe(400);
    expect(wrongId.json?.code).toBe('INVALID_DATA');
    const link = await http('POST', `${origin}/crm/v8/Leads/${record}/Attachments`, {
      token: server.devToken,
      query: { attachmentUrl: 'https://www.zohocorp.com/page', title: 'page' },
    });
    expect(link.status, link.text).toBe(200);
    const linkRes = await get(`/crm/v8/Leads/${record}/Attachments/${link.json.data[0].details.id}`);
    expect(linkRes.status).toBe(204);
    expect(linkRes.headers['location']).toBe('https://www.zohocorp.com/page');
  });

  it('streams uploads and deletes on the download URLs straight to crm-media', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(origin, server.devToken, record, photoB)).json).toEqual({
      code: 'SUCCESS',
      details: {},
      message: 'photo uploaded successfully',
      status: 'success',
    });
    const file = randomBytes(200 * 1024);
    const b = filePart(file, 'data.bin', 'application/octet-stream');
    const att = await http('POST', `${origin}/crm/v8/Leads/${record}/Attachments`, { token: server.devToken, headers: { 'content-type': b.contentType }, body: b.body });
    expect(att.status, att.text).toBe(200);
    const attPath = `/crm/v8/Leads/${record}/Attachments/${att.json.data[0].details.id}`;
    const got = await get(attPath);
    expect(got.status).toBe(200);
    expect(got.body.equals(file)).toBe(true);
    expect(got.headers['content-disposition']).toBe('attachment; filename="data.bin"');
    expect((await get(attPath, { method: 'DELETE' })).json?.data?.[0]?.code).toBe('SUCCESS');
    expect((await get(photoPath(record), { method: 'DELETE' })).json?.code).toBe('SUCCESS');
  });

  it('stops honouring a revoked token within CRM_MEDIA_ACCEL_CACHE_SECONDS + 1 s', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(origin, server.devToken, record, photoA)).status).toBe(200);
    const issued = await server.admin('POST', `/orgs/${server.orgId}/tokens`, { user: server.adminUserId });
    expect((await get(photoPath(record), { token: issued.access_token })).status).toBe(200);
    await server.admin('DELETE', `/orgs/${server.orgId}/tokens/${issued.id}`);
    const revokedAt = Date.now();
    let status = 0;
    for (let i = 0; i < 100 && status !== 401; i++) {
      const res = await get(photoPath(record), { token: issued.access_token });
      status = res.status;
      if (status === 200) expect(res.body.equals(photoA)).toBe(true);
      else expectZohoError(res, { status: 401, code: 'INVALID_TOKEN', message: 'invalid oauth token', details: {} });
      if (status !== 401) await sleep(100);
    }
    expect(status).toBe(401);
    // Bound by design (docs/deployment.md), with a second of slack for a busy machine.
    expect(Date.now() - revokedAt).toBeLessThan((REUSE_S + 2) * 1000);
  });

  it('answers every download while the photo is replaced: the old bytes or the new, never an nginx page', async () => {
    const record = await server.createRecord();
    expect((await uploadPhoto(origin, server.devToken, record, photoA)).status).toBe(200);
    expect((await get(photoPath(record))).body.equals(photoA)).toBe(true);
    expect((await uploadPhoto(origin, server.devToken, record, photoB)).status).toBe(200);
    let sawNew = false;
    for (let i = 0; i < 100 && !sawNew; i++) {
      const res = await get(photoPath(record));
      expect(res.status).toBe(200);
      sawNew = res.body.equals(photoB);
      if (!sawNew) {
        expect(res.body.equals(photoA)).toBe(true);
        await sleep(50);
      }
    }
    expect(sawNew).toBe(true);
  });
});
