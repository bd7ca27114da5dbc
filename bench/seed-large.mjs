#!/usr/bin/env node
/**
 * Seeds a crm-media SQLite + disk data directory with N records of the first org, each with a small PNG photo,
 * directly through the project's own storage modules (compiled: dist/storage/metadata/sqlite.js openSqliteStore,
 * dist/storage/blobs/disk.js DiskBlobStore for the blob layout), while no server runs on the directory.
 *
 *   node bench/seed-large.mjs --data DIR --count 100000 --photo FILE --out IDS.json
 *
 * Rows go in through the store's records.insert / photos.upsert inside transactions of 2,000 records (synchronous=NORMAL
 * while seeding); blob files are written to DiskBlobStore.pathOf(key) without a per-file fsync, and one `sync` at
 * the end makes everything durable. The data directory must have been initialised by one server start (bootstrap:
 * org, admin user, token).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { openSqliteStore } = await import(join(ROOT, 'dist/storage/metadata/sqlite.js'));
const { DiskBlobStore } = await import(join(ROOT, 'dist/storage/blobs/disk.js'));
const { newZohoId } = await import(join(ROOT, 'dist/domain/ids.js'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) throw new Error(`--${name} is required`);
  return args[i + 1];
};
const dataDir = resolve(opt('data'));
const count = Number(opt('count'));
const photo = readFileSync(opt('photo'));
const outFile = opt('out');
const BATCH = 2_000;

const t0 = performance.now();
const store = await openSqliteStore({ file: join(dataDir, 'crm-media.sqlite'), synchronous: 'normal' });
const blobs = await new DiskBlobStore(dataDir).init();
const org = (await store.directory.listOrgs())[0];
if (!org) throw new Error('no org: start the server once on this data directory first');
const admin = (await store.directory.listUsers(org.id))[0];
const sha = createHash('sha256').update(photo).digest('hex');
const ids = [];
const madeDirs = new Set();
for (let done = 0; done < count; done += BATCH) {
  const n = Math.min(BATCH, count - done);
  const batch = [];
  for (let i = 0; i < n; i++) {
    const key = randomBytes(16).toString('hex');
    const path = blobs.pathOf(key);
    const dir = dirname(path);
    if (!madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      madeDirs.add(dir);
    }
    writeFileSync(path, photo, { mode: 0o640 });
    batch.push({ id: newZohoId(), key });
  }
  const now = Date.now();
  await store.transaction(async (tx) => {
    for (const { id, key } of batch) {
      await tx.records.insert({
        id,
        orgId: org.id,
        module: 'Leads',
        ownerId: admin.id,
        data: { Last_Name: `Seed ${done}` },
        state: 'normal',
        createdBy: admin.id,
        createdAt: now,
        modifiedBy: admin.id,
        modifiedAt: now,
      });
      await tx.photos.upsert({
        orgId: org.id,
        recordId: id,
        blobKey: key,
        fileName: 'photo.png',
        contentType: 'image/png',
        size: photo.length,
        width: photo.readUInt32BE(16),
        height: photo.readUInt32BE(20),
        sha256: sha,
        createdBy: admin.id,
        createdAt: now,
      });
    }
  });
  for (const b of batch) ids.push(b.id);
  if ((done / BATCH) % 10 === 0) process.stderr.write(`  seeded ${done + n}/${count}\n`);
}
await store.close();
execFileSync('sync');
writeFileSync(outFile, JSON.stringify({ orgId: org.id, ids, sha256: sha, seconds: (performance.now() - t0) / 1000 }));
process.stdout.write(`SEEDED ${count} records with photos in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
