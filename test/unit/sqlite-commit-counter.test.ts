/**
 * The count of commits that lets the WAL's group fsync skip fsyncs nobody needs (group-fsync.ts). It may count too
 * often (an fsync too many), never too early: a commit counted before it is made could be acknowledged unsynced.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitCounter, withStatementCache } from '../../src/storage/metadata/sqlite.js';

interface Schema {
  t: { id: number; v: string };
}

describe('SQLite commit counter', () => {
  let dir: string;
  let raw: Database.Database;
  let counter: CommitCounter;
  let db: Kysely<Schema>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-commits-'));
    raw = new Database(join(dir, 'db.sqlite'));
    raw.pragma('journal_mode = WAL');
    raw.exec('create table t (id integer primary key, v text not null)');
    counter = new CommitCounter(raw);
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(raw, counter) }) });
  });
  afterEach(async () => {
    await db.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts a write made outside a transaction, and no read', async () => {
    await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
    expect(counter.commits).toBe(1);
    await db.selectFrom('t').selectAll().execute();
    await db.selectFrom('t').selectAll().execute();
    expect(counter.commits).toBe(1);
    // A write that returns rows goes through all(), not run().
    await db.insertInto('t').values({ id: 2, v: 'b' }).returningAll().execute();
    expect(counter.commits).toBe(2);
  });

  it('counts a transaction once, when it commits, not while it runs', async () => {
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('t').values({ id: 1, v: 'a' }).execute();
      await tx.updateTable('t').set({ v: 'b' }).execute();
      expect(counter.commits).toBe(0);
    });
    expect(counter.commits).toBe(1);
    // A transaction that only reads needs no fsync.
    await db.transaction().execute((tx) => tx.selectFrom('t').selectAll().execute());
    expect(counter.commits).toBe(1);
  });

  it('counts conservatively when a write fails or a transaction rolls back', async () => {
    await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
    await expect(db.insertInto('t').values({ id: 1, v: 'again' }).execute()).rejects.toThrow(/UNIQUE/);
    expect(counter.commits).toBeGreaterThanOrEqual(1);
    const before = counter.commits;
    await expect(
      db.transaction().execute(async (tx) => {
        await tx.insertInto('t').values({ id: 2, v: 'b' }).execute();
        throw new Error('abandoned');
      }),
    ).rejects.toThrow('abandoned');
    expect(counter.commits).toBeGreaterThanOrEqual(before);
    expect(raw.inTransaction).toBe(false);
  });

  it('refuses to stream a statement that writes (it would write after being counted)', async () => {
    const conn = withStatementCache(raw, counter);
    expect(() => [...conn.prepare('insert into t (id, v) values (?, ?) returning id').iterate([5, 'x'])]).toThrow(/writes/);
    expect([...conn.prepare('select count(*) as n from t').iterate([])]).toEqual([{ n: 0 }]);
  });
});
