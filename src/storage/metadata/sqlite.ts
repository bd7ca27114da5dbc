/**
 * The embedded default: SQLite (better-sqlite3) in WAL mode. One connection per process; several processes (the
 * server and the CLI) may open the same file, SQLite's own locking serializes their writes.
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { KyselyMetadataStore } from './kysely-store.js';
import { GroupFsync, keptOpenFsync } from './group-fsync.js';
import { runMigrations } from './migrate.js';
import type { Database as Schema } from './schema.js';

export interface SqliteOptions {
  file: string;
  /**
   * `full` (default): a change is acknowledged only once the WAL is fsynced, so it survives power loss (group
   * commit, see group-fsync.ts). `normal`: acknowledged once written to the OS (survives a crash of the process,
   * not of the machine).
   */
  synchronous?: 'full' | 'normal';
}

/** Kysely prepares every query anew; SQLite preparation costs more than most of our queries, so keep them. */
const STATEMENT_CACHE_SIZE = 256;

function withStatementCache(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) return stmt;
      stmt = db.prepare(sql) as unknown as SqliteStatement;
      if (cache.size >= STATEMENT_CACHE_SIZE) {
        // Insertion order approximates age; dropping the oldest keeps the hot, early-seen statements mostly cached.
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

export async function openSqliteStore(opts: SqliteOptions): Promise<KyselyMetadataStore> {
  const raw = new Database(opts.file);
  raw.pragma('journal_mode = WAL');
  // Commits do not fsync inside better-sqlite3 (that would block the event loop); `durable()` does, for all
  // commits since the last fsync at once.
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  // The CLI may write while a server runs on the same file; wait for its lock instead of failing.
  raw.pragma('busy_timeout = 5000');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  await runMigrations(db);
  const walFsync = keptOpenFsync();
  const wal = opts.synchronous === 'normal' ? undefined : new GroupFsync(`${opts.file}-wal`, walFsync);
  await wal?.sync();
  return new KyselyMetadataStore(db, {
    // One connection means one writer at a time: a transaction already excludes every other writer in-process,
    // and SQLite's file lock excludes other processes.
    lockRecord: async () => {},
    skipLocked: false,
    durable: () => wal?.sync() ?? Promise.resolve(),
    close: async () => {
      await walFsync.close();
      await db.destroy();
    },
  });
}
