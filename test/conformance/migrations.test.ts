/**
 * Upgrades keep data: a database written by an earlier schema version is migrated to the latest without losing or
 * altering rows (SQLite rebuilds tables where it cannot alter a constraint).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrationProvider } from '../../src/storage/metadata/migrations.js';
import { createTestDatabase } from '../helpers/backend.js';

const pgReachable = process.env['CRM_MEDIA_TEST_PG'] === '1';

async function upgradeKeepsPhotos(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const to2 = await migrator.migrateTo('0002_oauth_workflows');
  expect(to2.error).toBeUndefined();
  await db.insertInto('orgs').values({ id: '1', name: 'o', time_zone: 'UTC', created_at: 1 }).execute();
  await db
    .insertInto('photos')
    .values({ org_id: '1', record_id: '42', blob_key: 'a'.repeat(32), file_name: 'p.png', content_type: 'image/png', size: 5, width: 2, height: 3, sha256: 'b'.repeat(64), created_by: '7', created_at: 9 })
    .execute();
  const latest = await migrator.migrateToLatest();
  expect(latest.error).toBeUndefined();
  const rows = await db.selectFrom('photos').selectAll().execute();
  expect(rows.map((r) => ({ ...r, size: Number(r.size), created_at: Number(r.created_at) }))).toEqual([
    { org_id: '1', record_id: '42', blob_key: 'a'.repeat(32), file_name: 'p.png', content_type: 'image/png', size: 5, width: 2, height: 3, sha256: 'b'.repeat(64), created_by: '7', created_at: 9 },
  ]);
  // The hash is optional from 0003 on, and the blob-key index is still there.
  await db.insertInto('photos').values({ org_id: '1', record_id: '43', blob_key: 'c'.repeat(32), file_name: 'q.png', content_type: 'image/png', size: 1, width: 1, height: 1, sha256: null, created_by: '7', created_at: 10 }).execute();
  expect((await db.selectFrom('photos').select('record_id').where('blob_key', '=', 'c'.repeat(32)).execute()).length).toBe(1);
  // 0004 counted the storage the org already used.
  const storage = await db.selectFrom('org_storage').selectAll().execute();
  expect(storage.map((r) => ({ org_id: r.org_id, used_bytes: Number(r.used_bytes) }))).toEqual([{ org_id: '1', used_bytes: 5 }]);
}

describe('schema upgrades keep data', () => {
  it('SQLite: 0002 → latest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crm-media-mig-'));
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(join(dir, 'm.sqlite')) }) });
    try {
      await upgradeKeepsPhotos(db);
      const indexes = await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'photos'`.execute(db);
      expect(indexes.rows.map((r) => r.name)).toContain('photos_blob_key');
    } finally {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!pgReachable)('PostgreSQL: 0002 → latest', async () => {
    const target = await createTestDatabase();
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target.url, max: 2 }) }) });
    try {
      await upgradeKeepsPhotos(db);
    } finally {
      await db.destroy();
      await target.drop();
    }
  });
});
