import { type Kysely, Migrator } from 'kysely';
import { migrationProvider } from './migrations.js';

/** Brings the schema to the latest migration; throws with the failing migration's name if one fails. */
export async function runMigrations(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}
