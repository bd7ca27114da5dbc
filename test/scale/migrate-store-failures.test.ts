/**
 * `crm-media migrate-store` when things go wrong: configuration mistakes and unreachable targets are one line and
 * write nothing; a source blob that is missing, truncated or corrupted stops the migration and leaves the target as
 * it was found (rows rolled back, copied blobs removed), or, with --skip-damaged, is left out and listed; a source a
 * running server holds is refused unless --allow-running-source; an interruption (SIGINT) leaves the target as found;
 * and after every failure a rerun succeeds. (postgres-s3 project only.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allBlobRefs } from '../../src/admin/media-inventory.js';
import { loadConfig } from '../../src/config.js';
import type { BlobRef } from '../../src/admin/media-inventory.js';
import { openBlobStore, openMetadataStore } from '../../src/runtime.js';
import { type PreparedBackend, prepareBackend } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer } from '../helpers/server.js';
import { CLI, freePort, spawnServer } from '../helpers/spawned-server.js';

const STACK = /\n\s+at .+:\d+:\d+/;
let source: TestServer;
let target: PreparedBackend;
let spare: PreparedBackend;
let refs: BlobRef[] = [];
let attachmentCount = 0;

function blobPath(key: string): string {
  return join(source.dataDir, 'blobs', key.slice(0, 2), key);
}

beforeAll(async () => {
  source = await TestServer.start({ contentHash: 'sha256' }, 'sqlite-disk');
  for (let i = 0; i < 8; i++) {
    const id = await source.createRecord('Leads');
    const photo = filePart(png(20 + i, 10), 'p.png', 'image/png');
    expect((await source.api('POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': photo.contentType }, body: photo.body })).status).toBe(200);
    for (let j = 0; j < 3; j++) {
      // Large enough that a copy takes a moment (the interruption test needs one in flight).
      const file = filePart(randomBytes(256 * 1024 + i * 1000 + j), `f${i}-${j}.bin`);
      expect((await source.api('POST', `/crm/v8/Leads/${id}/Attachments`, { headers: { 'content-type': file.contentType }, body: file.body })).status).toBe(200);
      attachmentCount++;
    }
  }
  await source.server.stop();
  const store = await openMetadataStore(loadConfig({ dataDir: source.dataDir }, {}));
  for await (const r of allBlobRefs(store)) refs.push(r);
  await store.close();
  target = await prepareBackend(join(source.dataDir, 'target'), 'postgres-s3');
  spare = await prepareBackend(join(source.dataDir, 'spare'), 'postgres-s3');
}, 180_000);

afterAll(async () => {
  await target?.teardown();
  await spare?.teardown();
  await source?.stop().catch(() => {});
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function migrateArgs(t: PreparedBackend, over: Record<string, string | null> = {}): string[] {
  const flags: Record<string, string | null> = {
    '--to-database': t.env['DATABASE_URL']!,
    '--to-s3-bucket': t.env['CRM_MEDIA_S3_BUCKET']!,
    '--to-s3-endpoint': t.env['CRM_MEDIA_S3_ENDPOINT']!,
    '--to-s3-force-path-style': '',
    ...over,
  };
  const args = ['--data', source.dataDir, 'migrate-store'];
  for (const [k, v] of Object.entries(flags)) if (v !== null) args.push(...(v === '' ? [k] : [k, v]));
  return args;
}

function startMigrate(args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [...CLI, ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      AWS_ACCESS_KEY_ID: target.env['AWS_ACCESS_KEY_ID']!,
      AWS_SECRET_ACCESS_KEY: target.env['AWS_SECRET_ACCESS_KEY']!,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

const migrate = (args: string[]) => startMigrate(args).done;

/** What the target holds: its orgs and the objects in its bucket. */
async function targetHolds(t: PreparedBackend = target): Promise<{ orgs: number; objects: number }> {
  const config = loadConfig({ dataDir: source.dataDir, ...t.overrides }, {});
  const [store, blobs] = [await openMetadataStore(config), await openBlobStore(config)];
  try {
    let objects = 0;
    for await (const _ of blobs.list()) objects++;
    return { orgs: (await store.directory.listOrgs()).length, objects };
  } finally {
    await blobs.close();
    await store.close();
  }
}

/** The one line a failed command prints (its progress lines aside), and no stack. */
function failureLine(r: Run): string {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(STACK);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('  copied '));
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

const EMPTY = { orgs: 0, objects: 0 };

describe('migrate-store: mistakes of configuration write nothing', () => {
  it('no --to-s3-endpoint (AWS S3 itself): one line naming it, target untouched', async () => {
    const line = failureLine(await migrate(migrateArgs(target, { '--to-s3-endpoint': null })));
    expect(line).toMatch(/--to-s3-endpoint is not set, so AWS S3 itself is used|AWS_ACCESS_KEY_ID|--to-s3-bucket/);
    expect(await targetHolds()).toEqual(EMPTY);
  });

  it('a target database that refuses connections: one line naming --to-database', async () => {
    const url = new URL(target.env['DATABASE_URL']!);
    url.port = String(await freePort());
    const line = failureLine(await migrate(migrateArgs(target, { '--to-database': url.toString() })));
    expect(line).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:\d+ \(--to-database\): connection refused/);
    expect(await targetHolds()).toEqual(EMPTY);
  });

  it('a target bucket that does not exist: one line naming --to-s3-bucket', async () => {
    const line = failureLine(await migrate(migrateArgs(target, { '--to-s3-bucket': 'no-such-bucket' })));
    expect(line).toMatch(/the bucket "no-such-bucket" does not exist .* \(--to-s3-bucket\)/);
    expect(await targetHolds()).toEqual(EMPTY);
  });

  it('target settings that are not valid: one line naming each flag', async () => {
    const line = failureLine(await migrate(migrateArgs(target, { '--to-database': 'mysql://crm@db/crm', '--to-s3-endpoint': 'not a url' })));
    expect(line).toMatch(/^crm-media: the target is not valid: --to-database: must be a postgres:\/\/ URL.*; --to-s3-endpoint: Invalid URL$/);
    expect(await targetHolds()).toEqual(EMPTY);
  });

  it('no target bucket at all: one line', async () => {
    const line = failureLine(await migrate(migrateArgs(target, { '--to-s3-bucket': null })));
    expect(line).toContain('--to-s3-bucket <name>');
  });
});

describe('migrate-store: damaged source blobs', () => {
  it('a missing blob: refused before anything is written, naming it', async () => {
    const victim = refs.find((r) => r.kind === 'attachment')!;
    await rename(blobPath(victim.blobKey), `${blobPath(victim.blobKey)}.away`);
    try {
      const line = failureLine(await migrate(migrateArgs(target)));
      expect(line).toContain(`attachment ${victim.id} of record ${victim.recordId}`);
      expect(line).toMatch(/1 referenced blob\(s\) of the source are missing or not of their recorded size, nothing was copied/);
      expect(line).toContain('--skip-damaged');
      expect(await targetHolds()).toEqual(EMPTY);
    } finally {
      await rename(`${blobPath(victim.blobKey)}.away`, blobPath(victim.blobKey));
    }
  });

  it('a truncated blob: refused before anything is written, with both sizes', async () => {
    const victim = refs.find((r) => r.kind === 'photo')!;
    const bytes = await readFile(blobPath(victim.blobKey));
    await truncate(blobPath(victim.blobKey), 10);
    try {
      const line = failureLine(await migrate(migrateArgs(target)));
      expect(line).toContain(`the photo of record ${victim.recordId}`);
      expect(line).toContain(`10 bytes where ${victim.size} were recorded`);
      expect(await targetHolds()).toEqual(EMPTY);
    } finally {
      await writeFile(blobPath(victim.blobKey), bytes);
    }
  });

  it('bytes that do not match their recorded SHA-256 (same size): found while copying; rows rolled back and the copies removed', async () => {
    const victim = refs.filter((r) => r.kind === 'attachment').at(-1)!;
    const h = await open(blobPath(victim.blobKey), 'r+');
    const one = Buffer.alloc(1);
    await h.read(one, 0, 1, 100);
    await h.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, 100);
    await h.close();
    try {
      const r = await migrate(migrateArgs(target));
      const line = failureLine(r);
      expect(line).toContain(`attachment ${victim.id}`);
      expect(line).toContain('the bytes do not match the SHA-256 recorded at upload');
      // Other blobs were copied before the damaged one was reached; none is left.
      expect(await targetHolds()).toEqual(EMPTY);

      // --skip-damaged: everything else is migrated, the damaged attachment listed (into the spare target).
      const skipped = await migrate([...migrateArgs(spare), '--skip-damaged']);
      expect(skipped.code, skipped.stderr).toBe(0);
      const report = JSON.parse(skipped.stdout);
      expect(report.skipped).toEqual([
        { kind: 'attachment', org: victim.orgId, record: victim.recordId, id: victim.id, blob: victim.blobKey, problem: 'the bytes do not match the SHA-256 recorded at upload' },
      ]);
      expect(report.attachments).toBe(attachmentCount - 1);
      expect(report.verified).toBe(refs.length - 1);
      expect(await targetHolds(spare)).toEqual({ orgs: 1, objects: refs.length - 1 });
    } finally {
      const h2 = await open(blobPath(victim.blobKey), 'r+');
      const b = Buffer.alloc(1);
      await h2.read(b, 0, 1, 100);
      await h2.write(Buffer.from([b[0]! ^ 0xff]), 0, 1, 100);
      await h2.close();
    }
  });
});

describe('migrate-store: a source in use, an interruption, then a rerun', () => {
  it('a server running on the source: refused in one line naming it and the way round; the target untouched', async () => {
    const server = await spawnServer({ args: ['--data', source.dataDir], env: { CRM_MEDIA_ADMIN_KEY: 'migrate-running-key-0123' } });
    try {
      const line = failureLine(await migrate(migrateArgs(target)));
      expect(line).toContain(`another crm-media server (pid ${server.process.pid}`);
      expect(line).toContain('--allow-running-source');
      expect(await targetHolds()).toEqual(EMPTY);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('--allow-running-source: copies a consistent snapshot while the server keeps taking uploads', async () => {
    const snapshotTarget = await prepareBackend(join(source.dataDir, 'snapshot'), 'postgres-s3');
    const server = await spawnServer({ args: ['--data', source.dataDir], env: { CRM_MEDIA_ADMIN_KEY: 'migrate-running-key-0123', CRM_MEDIA_DEV_TOKEN: source.devToken } });
    try {
      const id = await (async () => {
        const res = await fetch(`${server.url}/crm/v8/Leads`, { method: 'POST', headers: { authorization: `Zoho-oauthtoken ${source.devToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'Live' }] }) });
        return ((await res.json()) as { data: { details: { id: string } }[] }).data[0]!.details.id;
      })();
      let uploading = true;
      const uploads = (async () => {
        let n = 0;
        while (uploading && n < 200) {
          const f = filePart(randomBytes(2000), `live${n++}.bin`);
          await fetch(`${server.url}/crm/v8/Leads/${id}/Attachments`, { method: 'POST', headers: { authorization: `Zoho-oauthtoken ${source.devToken}`, 'content-type': f.contentType }, body: new Uint8Array(f.body) });
        }
        return n;
      })();
      const r = await migrate([...migrateArgs(snapshotTarget), '--allow-running-source']);
      uploading = false;
      expect(await uploads).toBeGreaterThan(0);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout);
      // A snapshot: at least what was there before, every copy verified, nothing half-copied.
      expect(report.records).toBe(9);
      expect(report.attachments).toBeGreaterThanOrEqual(attachmentCount);
      expect(report.verified).toBe(report.blobs);
      expect(await targetHolds(snapshotTarget)).toEqual({ orgs: 1, objects: report.blobs });
    } finally {
      expect(await server.stop()).toBe(0);
      await snapshotTarget.teardown();
    }
  });

  it('SIGINT in the middle of the copy: exits 1 saying so, the target as it was found', async () => {
    const { child, done } = startMigrate(migrateArgs(target));
    // Interrupted once the first blobs have reached the bucket.
    let copied = 0;
    for (let i = 0; i < 400 && copied === 0 && child.exitCode === null; i++) {
      await sleep(25);
      copied = (await targetHolds()).objects;
    }
    child.kill('SIGINT');
    const r = await done;
    if (copied === 0 || r.code === 0) throw new Error(`the copy was not caught in flight (copied ${copied}, exit ${r.code}): rerun`);
    expect(failureLine(r)).toMatch(/interrupted; the target was left as it was found/);
    expect(await targetHolds()).toEqual(EMPTY);
  });

  it('after every failure above, a rerun migrates everything and verifies every blob', async () => {
    // The source as it is now (the snapshot test above added a record and live uploads).
    const store = await openMetadataStore(loadConfig({ dataDir: source.dataDir }, {}));
    const now: BlobRef[] = [];
    for await (const ref of allBlobRefs(store)) now.push(ref);
    const records = (await store.records.listOfOrg(source.orgId, { limit: 1000, offset: 0 })).length;
    await store.close();
    const r = await migrate(migrateArgs(target));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ orgs: 1, records, photos: 8, attachments: now.length - 8, blobs: now.length, verified: now.length, skipped: [] });
    expect(await targetHolds()).toEqual({ orgs: 1, objects: now.length });
  });
});
