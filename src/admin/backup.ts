/**
 * Backup and restore of the embedded store (SQLite + disk), online: a server may keep serving, uploads included.
 *
 * A backup is a snapshot of the metadata and the blobs that snapshot references, nothing half-written:
 *  1. The database is copied with `VACUUM INTO` from a read-only connection: one read transaction, so the copy is
 *     the database as it was at one instant, whatever is written meanwhile (SQLite's online backup API would start
 *     over at every write of the server, and might never finish under steady uploads).
 *  2. The blobs the copy references are copied (hashed while read) from `blobs/`. They are immutable under their key
 *     and written completely before any row refers to them, so every one the snapshot references exists with the
 *     bytes it had then — unless a change after the snapshot retired it (a replaced photo, a deletion). Then the
 *     blob is not referenced any more, and the round is repeated: a new snapshot, and the blobs it references that
 *     are not copied yet. A blob that the live database still references but that is missing is damage in the store
 *     itself, reported, not waited for. Blobs copied in earlier rounds that the final snapshot does not reference
 *     are dropped.
 *  3. `manifest.json` is written last, with the SHA-256 of the database copy and of `blobs.sha256` (one
 *     `sha256sum`-style line per blob): a directory without it is not a backup. Everything is fsynced first.
 * Every upload acknowledged before the backup began is committed before the first snapshot, so it is in the backup.
 *
 * A restore verifies the whole backup (every hash) before it writes anything, refuses a data directory that holds
 * a store (unless forced: the database there is then kept aside, not deleted) or that a server is using, copies the
 * blobs, then the database (renamed into place last, with any stale `-wal`/`-shm` of an old one moved aside with
 * it), and finally checks the restored database's integrity and every blob it references.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import type { MetadataStore } from '../domain/ports/metadata.js';
import { isBlobKey } from '../domain/ports/blob-store.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { openSqliteStore } from '../storage/metadata/sqlite.js';
import { Inspector } from '../streams/inspector.js';
import { type BlobRef, allBlobRefs, describeRef } from './media-inventory.js';

export class BackupError extends Error {}

const DB_FILE = 'crm-media.sqlite';
const ADMIN_KEY_FILE = 'admin.key';
const MANIFEST = 'manifest.json';
const BLOB_LIST = 'blobs.sha256';
const FORMAT = 'crm-media-backup';
/** Snapshots taken at most before a backup gives up on a store that changes faster than it can be copied. */
const MAX_ROUNDS = 8;

export interface BackupManifest {
  format: typeof FORMAT;
  version: 1;
  /** When the final snapshot was taken (ISO time). */
  snapshotAt: string;
  source: string;
  database: { file: string; size: number; sha256: string };
  blobs: { count: number; bytes: number; list: string; listSha256: string };
  adminKey: boolean;
  /** Snapshots taken (more than one when changes during the copy retired blobs of an earlier one). */
  rounds: number;
  /** Referenced blobs missing from, or not of their recorded size or hash in, the store itself (copied as they were). */
  damaged: { ref: string; problem: string }[];
}

export type BackupEvent = { phase: 'snapshot'; round: number } | { phase: 'blobs'; round: number; copied: number; bytes: number };

export interface BackupOptions {
  /** Told of each snapshot and of the blob copies after it (the CLI prints it; tests act between the two). */
  progress?: (e: BackupEvent) => void | Promise<void>;
}

interface Copied {
  sha256: string;
  size: number;
}

export async function backup(dataDir: string, to: string, opts: BackupOptions = {}): Promise<BackupManifest> {
  const source = resolve(dataDir);
  const target = resolve(to);
  const live = join(source, DB_FILE);
  if (!(await exists(live))) throw new BackupError(`there is no crm-media store in ${source} (no ${DB_FILE})`);
  if (target === source || target.startsWith(`${source}/`)) throw new BackupError('the backup directory must be outside the data directory');
  await mkdir(target, { recursive: true, mode: 0o700 });
  if ((await readdir(target)).length > 0) throw new BackupError(`${target} is not empty; back up into a new directory`);
  await mkdir(join(target, 'blobs'), { mode: 0o700 });

  const snapshotFile = join(target, `${DB_FILE}.part`);
  const copied = new Map<string, Copied>();
  const damaged = new Map<string, { ref: string; problem: string }>();
  // The live database (opened as the CLI opens it, beside a server), for one question: is a blob that the snapshot
  // references but that is gone still referenced now?
  const liveStore = await openSqliteStore({ file: live, synchronous: 'normal' });
  try {
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const snapshotAt = new Date();
      await snapshot(live, snapshotFile);
      await opts.progress?.({ phase: 'snapshot', round });
      const refs = await referencesOf(snapshotFile);
      const vanished: BlobRef[] = [];
      let bytes = 0;
      let count = 0;
      for (const ref of refs.values()) {
        if (copied.has(ref.blobKey) || damaged.has(ref.blobKey)) continue;
        const c = await copyBlobFile(join(source, 'blobs', ref.blobKey.slice(0, 2), ref.blobKey), join(target, 'blobs', ref.blobKey.slice(0, 2), ref.blobKey));
        if (!c) {
          vanished.push(ref);
          continue;
        }
        copied.set(ref.blobKey, c);
        count++;
        bytes += c.size;
        const problem = c.size !== ref.size ? `${c.size} bytes where ${ref.size} were recorded` : ref.sha256 !== null && ref.sha256 !== c.sha256 ? 'the bytes do not match the SHA-256 recorded at upload' : undefined;
        if (problem) damaged.set(ref.blobKey, { ref: describeRef(ref), problem });
      }
      await opts.progress?.({ phase: 'blobs', round, copied: count, bytes });
      // Missing because a change after the snapshot retired them, or missing from the store itself?
      const stillReferenced = await liveStore.maintenance.referencedBlobKeys(vanished.map((r) => r.blobKey));
      for (const ref of vanished) if (stillReferenced.has(ref.blobKey)) damaged.set(ref.blobKey, { ref: describeRef(ref), problem: 'missing from the store' });
      if (vanished.some((r) => !stillReferenced.has(r.blobKey))) continue;
      return await finish({ source, target, snapshotFile, refs, copied, damaged, round, snapshotAt });
    }
  } finally {
    await liveStore.close();
  }
  throw new BackupError(`the store changed faster than it could be copied (${MAX_ROUNDS} snapshots); try again at a quieter time`);
}

/** A consistent copy of the database at one instant (one read transaction), in rollback-journal mode. */
async function snapshot(live: string, file: string): Promise<void> {
  await rm(file, { force: true });
  const db = new Database(live, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    db.prepare('VACUUM INTO ?').run(file);
  } finally {
    db.close();
  }
}

/** The blobs a database copy references, by key (read through the store's own queries). */
async function referencesOf(file: string): Promise<Map<string, BlobRef>> {
  const store = await openSqliteStore({ file, synchronous: 'normal' });
  try {
    const refs = new Map<string, BlobRef>();
    for await (const ref of allBlobRefs(store)) refs.set(ref.blobKey, ref);
    return refs;
  } finally {
    await store.close();
    singleFile(file);
  }
}

/** Back to one self-contained file (the store's connection switched it to WAL mode). */
function singleFile(file: string): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/**
 * Copies one blob file through a hash, durably; undefined when the source is gone. Backups are the owner's only;
 * restored blobs get the data directory's mode (group-readable, for nginx).
 */
async function copyBlobFile(from: string, to: string, mode = 0o600): Promise<Copied | undefined> {
  await mkdir(dirname(to), { recursive: true, mode: mode === 0o600 ? 0o700 : 0o750 });
  const part = `${to}.part`;
  const hashing = new Inspector({ maxBytes: Number.POSITIVE_INFINITY, hash: true, tooLarge: () => new Error('unreachable') });
  try {
    await pipeline(createReadStream(from), hashing, createWriteStream(part, { mode, flush: true }));
  } catch (err) {
    await rm(part, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  await rename(part, to);
  return { sha256: hashing.sha256!, size: hashing.bytes };
}

interface Finish {
  source: string;
  target: string;
  snapshotFile: string;
  refs: Map<string, BlobRef>;
  copied: Map<string, Copied>;
  damaged: Map<string, { ref: string; problem: string }>;
  round: number;
  snapshotAt: Date;
}

async function finish(f: Finish): Promise<BackupManifest> {
  // Copies of blobs that only an earlier snapshot referenced are not part of this backup.
  for (const key of f.copied.keys()) {
    if (f.refs.has(key)) continue;
    await unlink(join(f.target, 'blobs', key.slice(0, 2), key));
    f.copied.delete(key);
  }
  const lines: string[] = [];
  let bytes = 0;
  for (const [key, c] of [...f.copied].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`${c.sha256}  blobs/${key.slice(0, 2)}/${key}`);
    bytes += c.size;
  }
  const list = `${lines.join('\n')}${lines.length ? '\n' : ''}`;
  await writeFile(join(f.target, BLOB_LIST), list, { mode: 0o600, flush: true });
  const dbFile = join(f.target, DB_FILE);
  await fsyncFile(f.snapshotFile);
  await rename(f.snapshotFile, dbFile);
  let adminKey = false;
  if (await exists(join(f.source, ADMIN_KEY_FILE))) {
    await copyFile(join(f.source, ADMIN_KEY_FILE), join(f.target, ADMIN_KEY_FILE));
    await chmod(join(f.target, ADMIN_KEY_FILE), 0o600);
    await fsyncFile(join(f.target, ADMIN_KEY_FILE));
    adminKey = true;
  }
  await fsyncTree(join(f.target, 'blobs'));
  const manifest: BackupManifest = {
    format: FORMAT,
    version: 1,
    snapshotAt: f.snapshotAt.toISOString(),
    source: f.source,
    database: { file: DB_FILE, size: (await stat(dbFile)).size, sha256: await sha256OfFile(dbFile) },
    blobs: { count: f.copied.size, bytes, list: BLOB_LIST, listSha256: sha256Of(list) },
    adminKey,
    rounds: f.round,
    damaged: [...f.damaged].filter(([key]) => f.refs.has(key)).map(([, d]) => d),
  };
  // Written last: a directory without a manifest is not a backup.
  await writeFile(join(f.target, `${MANIFEST}.part`), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flush: true });
  await rename(join(f.target, `${MANIFEST}.part`), join(f.target, MANIFEST));
  await fsyncDir(f.target);
  return manifest;
}

interface VerifiedBackup {
  manifest: BackupManifest;
  blobs: { key: string; sha256: string }[];
}

/** Reads and checks a whole backup: the manifest, the database's hash, the list's hash, every blob's hash. */
export async function verifyBackup(from: string): Promise<VerifiedBackup> {
  const dir = resolve(from);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as BackupManifest;
  } catch {
    throw new BackupError(`${dir} is not a complete crm-media backup (no readable ${MANIFEST})`);
  }
  if (manifest.format !== FORMAT || manifest.version !== 1) throw new BackupError(`${dir}/${MANIFEST} is not a crm-media backup manifest of version 1`);
  if ((await sha256OfFile(join(dir, manifest.database.file)).catch(() => '')) !== manifest.database.sha256) {
    throw new BackupError(`the database copy in ${dir} is missing or does not match its recorded SHA-256`);
  }
  const list = await readFile(join(dir, manifest.blobs.list), 'utf8').catch(() => '');
  if (sha256Of(list) !== manifest.blobs.listSha256) throw new BackupError(`${dir}/${manifest.blobs.list} is missing or does not match its recorded SHA-256`);
  const blobs: { key: string; sha256: string }[] = [];
  const bad: string[] = [];
  for (const line of list.split('\n')) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) {2}blobs\/([0-9a-f]{2})\/([0-9a-f]{32})$/.exec(line);
    if (!m || !isBlobKey(m[3]!) || m[2] !== m[3]!.slice(0, 2)) throw new BackupError(`${dir}/${manifest.blobs.list}: an unreadable line`);
    const actual = await sha256OfFile(join(dir, 'blobs', m[2]!, m[3]!)).catch(() => 'missing');
    if (actual !== m[1]) bad.push(`blobs/${m[2]}/${m[3]} ${actual === 'missing' ? 'is missing' : 'does not match its SHA-256'}`);
    blobs.push({ key: m[3]!, sha256: m[1]! });
  }
  if (bad.length > 0) throw new BackupError(`the backup in ${dir} is damaged: ${bad.slice(0, 5).join('; ')}${bad.length > 5 ? `; and ${bad.length - 5} more` : ''}`);
  if (blobs.length !== manifest.blobs.count) throw new BackupError(`${dir}: ${blobs.length} blobs listed where the manifest says ${manifest.blobs.count}`);
  return { manifest, blobs };
}

export interface RestoreReport {
  snapshotAt: string;
  blobs: number;
  bytes: number;
  /** Where the database that was in the data directory went (with --force), if there was one. */
  keptAside: string | undefined;
  /** Referenced blobs checked present, of their recorded size, after the restore. */
  verified: number;
}

export async function restore(from: string, dataDir: string, opts: { force?: boolean } = {}): Promise<RestoreReport> {
  const backupDir = resolve(from);
  const data = resolve(dataDir);
  const { manifest, blobs } = await verifyBackup(backupDir);
  const lock = await lockDataDir(data, 'restore', 'stop it before restoring into its data directory');
  try {
    const holdsStore = (await exists(join(data, DB_FILE))) || (await hasBlobs(data));
    if (holdsStore && !opts.force) {
      throw new BackupError(`${data} already holds a crm-media store; restore into an empty data directory, or pass --force (its database is then kept aside, not deleted)`);
    }
    let keptAside: string | undefined;
    if (await exists(join(data, DB_FILE))) {
      keptAside = join(data, `${DB_FILE}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      // With its WAL, so that the database kept aside is whole.
      for (const suffix of ['', '-wal', '-shm']) if (await exists(join(data, `${DB_FILE}${suffix}`))) await rename(join(data, `${DB_FILE}${suffix}`), `${keptAside}${suffix}`);
    }
    for (const suffix of ['-wal', '-shm', '-journal']) await rm(join(data, `${DB_FILE}${suffix}`), { force: true });
    let bytes = 0;
    for (const b of blobs) {
      const to = join(data, 'blobs', b.key.slice(0, 2), b.key);
      const copy = await copyBlobFile(join(backupDir, 'blobs', b.key.slice(0, 2), b.key), to, 0o640);
      if (!copy || copy.sha256 !== b.sha256) throw new BackupError(`blobs/${b.key.slice(0, 2)}/${b.key} changed in the backup while it was being restored`);
      bytes += copy.size;
    }
    await fsyncTree(join(data, 'blobs'));
    const restoring = join(data, `${DB_FILE}.restoring`);
    await copyFile(join(backupDir, manifest.database.file), restoring);
    await fsyncFile(restoring);
    if ((await sha256OfFile(restoring)) !== manifest.database.sha256) throw new BackupError('the database copy changed in the backup while it was being restored');
    await rename(restoring, join(data, DB_FILE));
    if (manifest.adminKey && (opts.force || !(await exists(join(data, ADMIN_KEY_FILE))))) {
      await copyFile(join(backupDir, ADMIN_KEY_FILE), join(data, ADMIN_KEY_FILE));
      await chmod(join(data, ADMIN_KEY_FILE), 0o600);
    }
    await fsyncDir(data);
    const verified = await verifyRestored(join(data, DB_FILE), data);
    return { snapshotAt: manifest.snapshotAt, blobs: blobs.length, bytes, keptAside, verified };
  } finally {
    lock.release();
  }
}

/** The restored database is sound and every blob it references is in place with its recorded size. */
async function verifyRestored(file: string, data: string): Promise<number> {
  const check = new Database(file, { readonly: true });
  try {
    const result = check.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`the restored database fails SQLite's integrity check: ${String(result)}`);
  } finally {
    check.close();
  }
  const store: MetadataStore = await openSqliteStore({ file, synchronous: 'normal' });
  let verified = 0;
  try {
    for await (const ref of allBlobRefs(store)) {
      const size = await stat(join(data, 'blobs', ref.blobKey.slice(0, 2), ref.blobKey)).then((s) => s.size).catch(() => undefined);
      if (size !== ref.size) throw new BackupError(`after the restore, ${describeRef(ref)} is ${size === undefined ? 'missing' : `${size} bytes where ${ref.size} were recorded`}`);
      verified++;
    }
  } finally {
    await store.close();
  }
  return verified;
}

async function hasBlobs(data: string): Promise<boolean> {
  for (const sub of await readdir(join(data, 'blobs')).catch(() => [] as string[])) {
    if ((await readdir(join(data, 'blobs', sub)).catch(() => [] as string[])).some(isBlobKey)) return true;
  }
  return false;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A file's content (or a directory's entries) made durable. */
async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
const fsyncFile = fsyncPath;
const fsyncDir = fsyncPath;

/** The renames into a two-level blob tree become durable: every directory of it, then the tree itself. */
async function fsyncTree(root: string): Promise<void> {
  for (const sub of await readdir(root).catch(() => [] as string[])) await fsyncDir(join(root, sub));
  await fsyncDir(root);
  await fsyncDir(dirname(root));
}
