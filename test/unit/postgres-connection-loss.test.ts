/**
 * A PostgreSQL connection that dies in any state (idle in the pool, checked out between two queries of a
 * transaction, in the middle of a query) fails only the work that used it: the process lives on and the store
 * serves again on fresh connections. The connections are killed the way a fast shutdown of PostgreSQL kills them
 * (`pg_terminate_backend`: 57P01 "terminating connection due to administrator command"), but only those of this
 * test's own database, so that nothing else using the machine's PostgreSQL notices.
 *
 * Without a listener on every client, the second case ends the process: pg-pool listens for errors only while a
 * client is idle in the pool.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/storage/metadata/postgres.js';
import type { KyselyMetadataStore } from '../../src/storage/metadata/kysely-metadata-store.js';
import { PG_ADMIN_URL, createTestDatabase } from '../helpers/backend.js';

const pgReachable = process.env['CRM_MEDIA_TEST_PG'] === '1';

describe.skipIf(!pgReachable)('PostgreSQL connections lost in any state', () => {
  let db: { url: string; drop(): Promise<void> };
  let store: KyselyMetadataStore;
  let admin: pg.Client;
  /** On the test's database (advisory locks are per database); never killed. */
  let locker: pg.Client;
  let dbName: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dbName = new URL(db.url).pathname.slice(1);
    store = await openPostgresStore({ url: db.url, poolSize: 4 });
    admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
  });

  afterAll(async () => {
    await store?.close().catch(() => {});
    await admin?.end().catch(() => {});
    await locker?.end().catch(() => {});
    await db?.drop();
  });

  /** Kills every connection of the store, and waits until PostgreSQL has let go of them. */
  async function killConnections(): Promise<number> {
    const theirs = 'datname = $1 and pid <> pg_backend_pid() and pid <> $2';
    const lockerPid = (locker as unknown as { processID: number }).processID;
    const r = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where ${theirs}`, [dbName, lockerPid]);
    for (let i = 0; i < 200; i++) {
      const left = await admin.query(`select count(*)::int as n from pg_stat_activity where ${theirs}`, [dbName, lockerPid]);
      if (left.rows[0].n === 0) break;
      await sleep(10);
    }
    // The clients learn of it from their sockets, a moment after the backends are gone.
    await sleep(100);
    return r.rowCount ?? 0;
  }

  /** The store answers again (on a new connection) within a bounded number of attempts. */
  async function servesAgain(): Promise<void> {
    let last: unknown;
    for (let i = 0; i < 50; i++) {
      try {
        await store.ping();
        await store.directory.listOrgs();
        return;
      } catch (err) {
        last = err;
        await sleep(20);
      }
    }
    throw last;
  }

  it('idle connections in the pool', async () => {
    // Several connections at once, so that the pool keeps several idle ones.
    await Promise.all([store.ping(), store.ping(), store.ping()]);
    expect(await killConnections()).toBeGreaterThan(0);
    await servesAgain();
  });

  it('a connection checked out between two queries of a transaction', async () => {
    await store.ping();
    const outcome = store.transaction(async (tx) => {
      await tx.directory.listOrgs();
      // Now the transaction holds its connection and runs no query: PostgreSQL goes away right here.
      await killConnections();
      return tx.directory.listOrgs();
    });
    await expect(outcome).rejects.toThrow();
    await servesAgain();
  });

  it('a connection in the middle of a query', async () => {
    // The test holds the record's lock, so the transaction's lock query waits inside PostgreSQL until killed.
    const key = `${'1'.repeat(18)}:${'2'.repeat(18)}`;
    await locker.query('begin');
    await locker.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
    // Settled into a value at once: it fails while the test is still busy killing connections.
    const outcome = store
      .transaction(async (tx) => {
        await tx.records.lock('1'.repeat(18), '2'.repeat(18));
        return tx.directory.listOrgs();
      })
      .then(
        () => 'committed',
        (err: unknown) => err,
      );
    // Until the lock query is waiting, there is nothing to interrupt.
    for (let i = 0; i < 200; i++) {
      const waiting = await admin.query(
        "select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
        [dbName],
      );
      if (waiting.rows[0].n > 0) break;
      await sleep(10);
    }
    await killConnections();
    await locker.query('rollback');
    expect(await outcome).toBeInstanceOf(Error);
    await servesAgain();
  });
});
