/**
 * One writer per data directory on the embedded store: the SQLite store's single-writer design (one connection, the
 * per-record lock a no-op, group fsync counting this process's commits) assumes no second server shares its file.
 *
 * The lock is an exclusive SQLite lock on `<data>/crm-media.lock`, held by an open connection in exclusive locking
 * mode for as long as the holder runs: SQLite takes it with the operating system's own file lock (fcntl), which the
 * kernel releases when the process ends, however it ends, so a crash can never leave it stale. No pid file decides
 * anything: `<data>/crm-media.lock.json` only tells the next one who holds it. The CLI's commands (`org list`,
 * `token issue`, …) do not take it and keep working beside a running server; the file SQLite's own locking guards.
 * File locks on network file systems are only as good as the file system's; keep the data directory local.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE = 'crm-media.lock';
const HOLDER_FILE = 'crm-media.lock.json';

/** The data directory is held by another process. */
export class DataDirInUseError extends Error {}

export interface DataDirLock {
  readonly dataDir: string;
  release(): void;
}

interface Holder {
  pid: number;
  purpose: string;
  since: string;
}

/**
 * Takes the data directory for `purpose` (`server`, `restore`, …) or throws DataDirInUseError at once (never waits).
 * `advice` ends the message: what the one refused should do instead.
 */
export async function lockDataDir(dataDir: string, purpose: string, advice: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock; in exclusive locking mode it is kept after COMMIT, until close.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (at TEXT); DELETE FROM held; INSERT INTO held VALUES (datetime()); COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new DataDirInUseError(`${describeHolder(dataDir)} is using the data directory ${dataDir}; ${advice}`);
    }
    throw err;
  }
  const holder: Holder = { pid: process.pid, purpose, since: new Date().toISOString() };
  try {
    writeFileSync(join(dataDir, HOLDER_FILE), `${JSON.stringify(holder)}\n`, { mode: 0o644 });
  } catch {
    // Only the message of a refused process would miss it.
  }
  let released = false;
  return {
    dataDir,
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}

function describeHolder(dataDir: string): string {
  try {
    const h = JSON.parse(readFileSync(join(dataDir, HOLDER_FILE), 'utf8')) as Holder;
    const what = h.purpose === 'server' ? 'another crm-media server' : `crm-media ${h.purpose}`;
    return `${what} (pid ${h.pid}, since ${h.since})`;
  } catch {
    return 'another crm-media process';
  }
}
