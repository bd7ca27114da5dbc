/**
 * PostgreSQL metadata (scale-out): the same Kysely schema and migrations as SQLite, over a `pg` pool. Several
 * instances may share one database: migrations run under an advisory lock, and writers of one record's media
 * serialize on a per-record transaction-scoped advisory lock.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import { runMigrations } from './migrate.js';
import type { Database } from './schema.js';

export interface PostgresOptions {
  url: string;
  poolSize?: number;
}

/** Arbitrary but fixed: the key of the session advisory lock held while migrating. */
const MIGRATION_LOCK_KEY = 727_101_311;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

export async function openPostgresStore(opts: PostgresOptions): Promise<KyselyMetadataStore> {
  // Times and sizes are bigint columns holding values far below 2^53: read them as numbers, per pool (not globally).
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID || oid === NUMERIC_OID
        ? (v: string) => Number(v)
        : (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format),
  };
  const pool = new pg.Pool({
    connectionString: opts.url,
    // Migration holds one connection while the migrator uses another.
    max: Math.max(2, opts.poolSize ?? 10),
    types: types as pg.CustomTypesConfig,
    // A broken connection must fail the request that uses it, not hang it.
    connectionTimeoutMillis: 10_000,
  });
  // A connection that dies (PostgreSQL stopped or restarted: 57P01, ECONNRESET) emits `error` on its client, and an
  // `error` event without a listener ends the process. pg-pool listens only while a client is idle in the pool (and
  // re-emits that on the pool); while a request holds the client, between two queries of a transaction or between
  // checkout and the first query, nobody would. So every client gets its own listener for its whole life. The
  // failure itself reaches whoever uses the client next (its query rejects: the request is answered INTERNAL_ERROR),
  // and pg-pool drops a client that is no longer queryable when it is released.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateUnderLock(pool, db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return new KyselyMetadataStore(db, {
    namedLock: (name) => sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`,
    rowLocks: true,
    // A PostgreSQL commit returns once it is durable (synchronous_commit).
    durable: () => Promise.resolve(),
    close: () => db.destroy(),
  });
}

async function migrateUnderLock(pool: pg.Pool, db: Kysely<Database>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await runMigrations(db);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
