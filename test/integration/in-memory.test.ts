/**
 * In-memory mode through the programmatic API (src/api.ts, from the source tree; test/package runs it from the
 * packed tarball): nothing on disk, the published development credentials, the byte cap answered with the catalog's
 * STORAGE_SPACE_EXCEEDED while the upload streams, reset() and seed(doc).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrmMedia, DEV_ACCESS_TOKEN, DEV_ADMIN_KEY, startCrmMedia } from '../../src/api.js';
import { backendName } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { http } from '../helpers/server.js';

const KiB = 1024;

describe.skipIf(backendName() !== 'sqlite-disk')('in-memory mode (programmatic API)', () => {
  let srv: CrmMedia;
  let parent: string;
  let unusedDataDir: string;

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'crm-media-mem-'));
    unusedDataDir = join(parent, 'never-created');
    srv = await startCrmMedia({ inMemory: true, dataDir: unusedDataDir, memoryMaxBytes: 400 * KiB });
  });

  afterAll(async () => {
    await srv?.stop();
    await rm(parent, { recursive: true, force: true });
  });

  const api = (method: string, path: string, opts: Parameters<typeof http>[2] = {}) => http(method, `${srv.url}${path}`, { token: srv.token, ...opts });
  const newLead = async () => (await api('POST', '/crm/v8/Leads', { headers: { 'content-type': 'application/json' }, body: '{"data":[{"Last_Name":"Mem"}]}' })).json.data[0].details.id as string;
  const attach = (id: string, bytes: number) => {
    const { body, contentType } = filePart(Buffer.alloc(bytes, 1), 'blob.bin', 'application/octet-stream');
    return api('POST', `/crm/v8/Leads/${id}/Attachments`, { headers: { 'content-type': contentType }, body });
  };

  it('serves on a free loopback port with the published development token and admin key, writing nothing to disk', async () => {
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(srv.token).toBe(DEV_ACCESS_TOKEN);
    expect(srv.adminKey).toBe(DEV_ADMIN_KEY);
    expect((await http('GET', `${srv.url}/_admin/orgs`, { headers: { 'x-admin-key': DEV_ADMIN_KEY } })).status).toBe(200);
    const id = await newLead();
    const image = png(16, 16);
    const { body, contentType } = filePart(image, 'img1.png', 'image/png');
    expect((await api('POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
    expect((await api('GET', `/crm/v8/Leads/${id}/photo`)).body.equals(image)).toBe(true);
    expect(existsSync(unusedDataDir)).toBe(false);
    expect((await http('GET', `${srv.url}/readyz`)).json).toEqual({ status: 'ready', database: 'ok', blob_store: 'ok' });
  });

  it('past the cap an upload gets STORAGE_SPACE_EXCEEDED and stores nothing; deleting frees the space again', async () => {
    const id = await newLead();
    const first = await attach(id, 250 * KiB);
    expect(first.status, first.text).toBe(200);
    const refused = await attach(id, 250 * KiB);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({
      code: 'STORAGE_SPACE_EXCEEDED',
      details: { store: 'memory', limit_bytes: 400 * KiB },
      message: 'storage space exceeded',
      status: 'error',
    });
    const listed = await api('GET', `/crm/v8/Leads/${id}/Attachments?fields=id,File_Name`);
    expect(listed.json.data).toHaveLength(1);
    // The same connection pool keeps working after the refused body.
    const attachmentId = first.json.data[0].details.id as string;
    expect((await api('DELETE', `/crm/v8/Leads/${id}/Attachments/${attachmentId}`)).status).toBe(200);
    let again = await attach(id, 250 * KiB);
    // The replaced bytes are released just after the delete is answered.
    for (let i = 0; i < 50 && again.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await attach(id, 250 * KiB);
    }
    expect(again.status, again.text).toBe(200);
  });

  it('reset() empties the store and keeps the token working; seed(doc) adds what a seed file would', async () => {
    const id = await newLead();
    await srv.reset();
    const gone = await api('GET', `/crm/v8/Leads/${id}`);
    expect(gone.status).not.toBe(401);
    expect(gone.json.code).toBe('INVALID_DATA');
    const report = await srv.seed({
      orgs: [{ name: 'Globex', users: [{ name: 'Hank', email: 'hank@globex.test', profile: 'Administrator' }], tokens: [{ user: 'hank@globex.test' }] }],
    });
    expect(report.created).toBe(3);
    const hank = report.tokens[0]!.value;
    expect((await http('POST', `${srv.url}/crm/v8/Leads`, { token: hank, headers: { 'content-type': 'application/json' }, body: '{"data":[{"Last_Name":"G"}]}' })).status).toBe(201);
  });

  it('refuses what cannot be in memory, and dev credentials on a non-loopback address unless confirmed', async () => {
    await expect(startCrmMedia({ inMemory: true, database: 'postgres://127.0.0.1/x' })).rejects.toThrow(/in memory/);
    await expect(startCrmMedia({ inMemory: true, host: '0.0.0.0' })).rejects.toThrow(/--expose-dev-credentials/);
  });
});
