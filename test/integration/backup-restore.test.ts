/**
 * `crm-media backup` / `restore` / `verify-backup` on the embedded store: a backup taken while uploads, photo
 * replacements and deletions go on restores every upload acknowledged before the backup began, byte-identical, and
 * nothing half-written; a change that retires a blob between a snapshot and its copy makes another snapshot; restore
 * verifies every hash before it writes, refuses a store or a running server in its way, and a damaged backup.
 * (On PostgreSQL + S3 the commands refuse in one line and point at the documented procedure.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../src/admin/backup.js';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { backendName } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { runCli } from '../helpers/spawned-server.js';

const BACKEND = backendName();
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'crm-media-backup-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { PATH: process.env['PATH'] ?? '', ...env });

function oneLine(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe.runIf(BACKEND === 'sqlite-disk')('backup and restore of the embedded store', () => {
  let server: TestServer;
  /** `Leads/<record>/Attachments/<id>` or `Leads/<record>/photo` → bytes, acknowledged before the backup began. */
  const before = new Map<string, Buffer>();
  /** The same, acknowledged while the backup ran. */
  const during = new Map<string, Buffer>();
  /** Photos replaced while the backup ran: path → [old, new]. */
  const replaced = new Map<string, [Buffer, Buffer]>();
  let records: string[] = [];

  const uploadPhoto = async (record: string, image: Buffer) => {
    const { body, contentType } = filePart(image, 'p.png', 'image/png');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': contentType }, body });
    expect(res.status, res.text).toBe(200);
  };
  const uploadFile = async (record: string, data: Buffer): Promise<string> => {
    const { body, contentType } = filePart(data, 'f.bin');
    const res = await server.api('POST', `/crm/v8/Leads/${record}/Attachments`, { headers: { 'content-type': contentType }, body });
    expect(res.status, res.text).toBe(200);
    return `Leads/${record}/Attachments/${res.json.data[0].details.id}`;
  };

  beforeAll(async () => {
    server = await TestServer.start();
    records = await Promise.all(Array.from({ length: 12 }, () => server.createRecord('Leads')));
    for (const [i, r] of records.entries()) {
      const image = png(10 + i, 7);
      await uploadPhoto(r, image);
      before.set(`Leads/${r}/photo`, image);
      for (let j = 0; j < 3; j++) {
        const data = randomBytes(1_000 + i * 5_000 + j);
        before.set(await uploadFile(r, data), data);
      }
    }
  });
  afterAll(() => server?.stop());

  it('a backup during uploads, replacements and deletions restores every upload acknowledged before it began, byte-identical', async () => {
    const to = join(await tempDir(), 'backup');
    // Uploads that keep going while the backup runs.
    let running = true;
    const uploads = (async () => {
      for (let n = 0; running && n < 500; n++) {
        const data = randomBytes(500 + ((n * 7919) % 60_000));
        during.set(await uploadFile(records[n % records.length]!, data), data);
      }
    })();
    // Between the first snapshot and its blob copies: a photo replaced and an attachment deleted, so that blobs the
    // snapshot references are retired before they are copied.
    const victimPhoto = records[0]!;
    const victimAttachment = [...before.keys()].find((k) => k.startsWith(`Leads/${records[1]}/Attachments/`))!;
    const manifest = await backup(server.dataDir, to, {
      progress: async (e) => {
        if (e.phase !== 'snapshot' || e.round !== 1) return;
        const image = png(99, 3);
        await uploadPhoto(victimPhoto, image);
        replaced.set(`Leads/${victimPhoto}/photo`, [before.get(`Leads/${victimPhoto}/photo`)!, image]);
        expect((await server.api('DELETE', `/crm/v8/${victimAttachment}`)).status).toBe(200);
        await server.runtime.janitor.settled();
      },
    });
    running = false;
    await uploads;
    expect(manifest.rounds).toBeGreaterThanOrEqual(2);
    expect(manifest.damaged).toEqual([]);
    before.delete(`Leads/${victimPhoto}/photo`);
    before.delete(victimAttachment);
    expect(during.size).toBeGreaterThan(0);
    expect((await stat(to)).mode & 0o777).toBe(0o700);

    const verified = await cli(['verify-backup', to]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, blobs: manifest.blobs.count });

    const data = await tempDir();
    const r = await cli(['--data', data, 'restore', '--from', to]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ blobs: manifest.blobs.count, verified: manifest.blobs.count });
    expect(report.keptAside).toBeUndefined();

    const restored: RunningServer = await startServer(
      loadConfig({ dataDir: data, port: 0, host: '127.0.0.1', logLevel: 'silent', devToken: server.devToken, adminKey: 'test-admin-key-0123456789', sweepIntervalMs: 0 }, {}),
    );
    try {
      const get = (path: string) => http('GET', `${restored.url}/crm/v8/${path}`, { token: server.devToken });
      for (const [path, bytes] of before) {
        const res = await get(path);
        expect(res.status, `${path}: ${res.text.slice(0, 200)}`).toBe(200);
        expect(res.body.equals(bytes), path).toBe(true);
      }
      // A photo replaced during the backup is one of its two versions, whole.
      for (const [path, versions] of replaced) {
        const res = await get(path);
        expect(versions.some((v) => v.equals(res.body)), path).toBe(true);
      }
      // Uploads acknowledged during the backup: absent, or whole.
      let present = 0;
      for (const [path, bytes] of during) {
        const res = await get(path);
        if (res.status === 200) {
          present++;
          expect(res.body.equals(bytes), path).toBe(true);
        } else {
          expect(res.json.code).toBe('INVALID_DATA');
        }
      }
      expect(present).toBeLessThanOrEqual(during.size);
    } finally {
      await restored.stop();
    }

    // Restoring again into the now non-empty directory: refused, unless forced (the database then kept aside).
    oneLine(await cli(['--data', data, 'restore', '--from', to]), /already holds a crm-media store; restore into an empty data directory, or pass --force/);
    const forced = await cli(['--data', data, 'restore', '--from', to, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const kept = JSON.parse(forced.stdout).keptAside as string;
    expect(kept).toMatch(/crm-media\.sqlite\.before-restore-/);
    expect((await readdir(data)).some((f) => join(data, f) === kept)).toBe(true);
  });

  it('the CLI backs up a running server; restore refuses a data directory a server is using, and a damaged backup', async () => {
    const to = join(await tempDir(), 'cli-backup');
    const made = await cli(['--data', server.dataDir, 'backup', '--to', to]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ format: 'crm-media-backup', version: 1, adminKey: false });
    oneLine(await cli(['--data', server.dataDir, 'backup', '--to', to]), /is not empty; back up into a new directory/);

    // Restore into the running server's own directory: refused by its lock.
    oneLine(await cli(['--data', server.dataDir, 'restore', '--from', to, '--force']), /another crm-media server \(pid \d+.*is using the data directory/);

    // A flipped byte in one blob: verify-backup and restore refuse; the target stays empty.
    const list = (await readdir(join(to, 'blobs'))).find((d) => d.length === 2)!;
    const victim = join(to, 'blobs', list, (await readdir(join(to, 'blobs', list)))[0]!);
    const h = await open(victim, 'r+');
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, 0);
    await h.write(Buffer.from([b[0]! ^ 1]), 0, 1, 0);
    await h.close();
    oneLine(await cli(['verify-backup', to]), /is damaged: blobs\/[0-9a-f]{2}\/[0-9a-f]{32} does not match its SHA-256/);
    const empty = await tempDir();
    oneLine(await cli(['--data', empty, 'restore', '--from', to]), /is damaged/);
    expect((await readdir(empty)).filter((f) => !f.startsWith('crm-media.lock'))).toEqual([]);
    oneLine(await cli(['--data', empty, 'restore', '--from', await tempDir()]), /is not a complete crm-media backup \(no readable manifest\.json\)/);
  });
});

describe.runIf(BACKEND === 'postgres-s3')('backup on PostgreSQL + S3', () => {
  it('refuses in one line and points at the documented procedure', async () => {
    const server = await TestServer.start();
    try {
      const r = await cli(['backup', '--to', join(await tempDir(), 'b')], { ...server.backend.env, CRM_MEDIA_DATA: server.dataDir });
      oneLine(r, /backup works on the embedded store \(SQLite \+ disk\); for PostgreSQL \+ S3, use pg_dump and bucket versioning/);
    } finally {
      await server.stop();
    }
  });
});
