#!/usr/bin/env node
/**
 * Seeds a crm-media PostgreSQL database (disk blobs) with N records of the first org, each with a small PNG photo,
 * in bulk, while no server runs on it:
 *
 *   node bench/seed-large-pg.mjs --database URL --data DIR --count 1000000 --blobs 4096 --photo FILE --out IDS.json
 *
 * One record with its photo goes in through the project's own store (dist/storage/metadata/postgres.js:
 * insertRecord + upsertPhoto); every other row is a copy of those two rows with a new id (and blob key), made by
 * multi-row `insert … select … from unnest($ids)` statements of 10,000 rows, with the column lists read from the
 * database itself (so the seeder follows the schema the migrations made). Then `vacuum (analyze)`, as autovacuum would.
 * Blob files: `--blobs` distinct files at DiskBlobStore.pathOf(key), record i using blob i mod blobs (all the
 * same bytes; one `sync` at the end). With blobs < count several records share a file: the figure then isolates
 * the metadata's growth from the page cache's.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { openPostgresStore } = await import(join(ROOT, 'dist/storage/metadata/postgres.js'));
const { DiskBlobStore } = await import(join(ROOT, 'dist/storage/blobs/disk.js'));
const { newZohoId } = await import(join(ROOT, 'dist/domain/ids.js'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) throw new Error(`--${name} is required`);
  return args[i + 1];
};
const url = opt('database');
const dataDir = resolve(opt('data'));
const count = Number(opt('count'));
const blobCount = Math.min(count, Number(opt('blobs')));
const photo = readFileSync(opt('photo'));
const outFile = opt('out');
const BATCH = 10_000;

const t0 = performance.now();
const blobs = await new DiskBlobStore(dataDir).init();
const keys = [];
const madeDirs = new Set();
for (let i = 0; i < blobCount; i++) {
  const key = randomBytes(16).toString('hex');
  const path = blobs.pathOf(key);
  if (!madeDirs.has(dirname(path))) {
    mkdirSync(dirname(path), { recursive: true });
    madeDirs.add(dirname(path));
  }
  writeFileSync(path, photo, { mode: 0o640 });
  keys.push(key);
}

const store = await openPostgresStore({ url, poolSize: 2 });
const org = (await store.directory.listOrgs())[0];
if (!org) throw new Error('no org: start the server once on this database first');
const admin = (await store.directory.listUsers(org.id))[0];
const ids = Array.from({ length: count }, () => newZohoId());
const now = Date.now();
await store.transaction(async (tx) => {
  await tx.records.insert({ id: ids[0], orgId: org.id, module: 'Leads', ownerId: admin.id, data: { Last_Name: 'Seed' }, state: 'normal', createdBy: admin.id, createdAt: now, modifiedBy: admin.id, modifiedAt: now });
  await tx.photos.upsert({
    orgId: org.id,
    recordId: ids[0],
    blobKey: keys[0],
    fileName: 'photo.png',
    contentType: 'image/png',
    size: photo.length,
    width: photo.readUInt32BE(16),
    height: photo.readUInt32BE(20),
    sha256: createHash('sha256').update(photo).digest('hex'),
    createdBy: admin.id,
    createdAt: now,
  });
});
await store.close();

const db = new pg.Client({ connectionString: url });
await db.connect();
const columns = async (table) =>
  (await db.query('select column_name from information_schema.columns where table_schema = current_schema() and table_name = $1 order by ordinal_position', [table])).rows.map((r) => `"${r.column_name}"`);
const recordCols = (await columns('records')).filter((c) => c !== '"id"');
const photoCols = (await columns('photos')).filter((c) => c !== '"record_id"' && c !== '"blob_key"');
if (recordCols.length === 0 || photoCols.length === 0) throw new Error('records/photos tables not found');
const insertRecords = `insert into records ("id", ${recordCols.join(', ')}) select u.id, ${recordCols.map((c) => `t.${c}`).join(', ')} from unnest($1::text[]) as u(id), records t where t.id = $2`;
const insertPhotos = `insert into photos ("record_id", "blob_key", ${photoCols.join(', ')}) select u.id, u.key, ${photoCols.map((c) => `t.${c}`).join(', ')} from unnest($1::text[], $2::text[]) as u(id, key), photos t where t.record_id = $3`;
for (let done = 1; done < count; done += BATCH) {
  const batch = ids.slice(done, Math.min(count, done + BATCH));
  const batchKeys = batch.map((_, j) => keys[(done + j) % blobCount]);
  await db.query('begin');
  await db.query(insertRecords, [batch, ids[0]]);
  await db.query(insertPhotos, [batch, batchKeys, ids[0]]);
  await db.query('commit');
  if (Math.floor(done / BATCH) % 20 === 0) process.stderr.write(`  seeded ${done + batch.length}/${count}\n`);
}
// VACUUM as well as ANALYZE, as autovacuum does soon after a bulk load: it sets the rows' commit hint bits. Without
// it the first read of every page after the load dirties that page, and the random GETs then pay for writing the
// pages back as they cycle through shared_buffers — a cost of the fresh bulk load, not of the table's size.
await db.query('vacuum (analyze) records');
await db.query('vacuum (analyze) photos');
// What the GETs read at random, against the memory PostgreSQL caches pages in.
const sizes = (
  await db.query(
    "select pg_total_relation_size('records') as records, pg_total_relation_size('photos') as photos, current_setting('shared_buffers') as shared_buffers",
  )
).rows[0];
await db.end();
execFileSync('sync');
writeFileSync(
  outFile,
  JSON.stringify({ orgId: org.id, ids, blobs: blobCount, seconds: (performance.now() - t0) / 1000, tableBytes: Number(sizes.records) + Number(sizes.photos), sharedBuffers: sizes.shared_buffers }),
);
process.stdout.write(`SEEDED ${count} records with photos (${blobCount} blob files) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
