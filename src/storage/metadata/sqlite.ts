/**
 * The embedded default: SQLite (better-sqlite3) in WAL mode. One connection per process; several processes (the
 * server and the CLI) may open the same file, SQLite's own locking serializes their writes.
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import { GroupFsync, keptOpenFsync } from './group-fsync.js';
import { runMigrations } from './migrate.js';
import type { Database as Schema } from './schema.js';

/** SQLite's name for a database that lives in the connection's memory only. */
export const MEMORY = ':memory:';

export interface SqliteOptions {
  /** The database file, or `:memory:`. */
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

/**
 * Counts the commits of changes made through this connection: a statement that writes marks the connection dirty,
 * and the first statement after which no transaction is open (the write itself in autocommit mode, else COMMIT or
 * ROLLBACK) counts one. A failed write or a rollback counts too, which only costs an fsync nobody needed.
 */
export class CommitCounter {
  commits = 0;
  private dirty = false;

  constructor(private readonly db: Database.Database) {}

  /** After a statement of the connection ran (or failed): counts the commit it may have made. */
  ran(stmt: Database.Statement): void {
    if (!stmt.readonly) this.dirty = true;
    if (this.dirty && !this.db.inTransaction) {
      this.commits++;
      this.dirty = false;
    }
  }
}

export function withStatementCache(db: Database.Database, counter: CommitCounter): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) return stmt;
      const raw = db.prepare(sql);
      stmt = {
        reader: raw.reader,
        all: (parameters) => {
          try {
            return raw.all(parameters as unknown[]);
          } finally {
            counter.ran(raw);
          }
        },
        run: (parameters) => {
          try {
            return raw.run(parameters as unknown[]);
          } finally {
            counter.ran(raw);
          }
        },
        // Rows are produced (and a write would be made) only as the caller iterates, after any count taken here.
        iterate: (parameters) => {
          if (!raw.readonly) throw new Error('streaming a statement that writes is not supported');
          return raw.iterate(parameters as unknown[]);
        },
      };
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
  const counter = new CommitCounter(raw);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(raw, counter) }) });
  await runMigrations(db);
  const walFsync = keptOpenFsync();
  // An in-memory database (`:memory:`, `--in-memory`) has no WAL file and nothing to make durable.
  const wal = opts.synchronous === 'normal' || opts.file === MEMORY ? undefined : new GroupFsync(`${opts.file}-wal`, walFsync, () => counter.commits);
  await wal?.sync();
  return new KyselyMetadataStore(db, {
    // One connection means one writer at a time: a transaction already excludes every other writer in-process,
    // and SQLite's file lock excludes other processes.
    namedLock: undefined,
    rowLocks: false,
    durable: () => wal?.sync() ?? Promise.resolve(),
    close: async () => {
      await walFsync.close();
      await db.destroy();
    },
  });
}
