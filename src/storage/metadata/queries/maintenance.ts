import type { MaintenanceStore } from '../../../domain/ports/maintenance.js';
import { IN_LIST_CHUNK, type QueryContext } from '../query-context.js';

/** Children before parents, so that no foreign key is violated on the way. */
const TABLES_IN_DELETION_ORDER = [
  'fault_rules',
  'api_credits',
  'org_storage',
  'org_limits',
  'delivery_attempts',
  'outbox_events',
  'workflow_rules',
  'grant_codes',
  'access_tokens',
  'refresh_tokens',
  'oauth_clients',
  'attachments',
  'photos',
  'records',
  'module_settings',
  'users',
  'profiles',
  'orgs',
] as const;

export class MaintenanceQueries implements MaintenanceStore {
  constructor(private readonly q: QueryContext) {}

  async referencedBlobKeys(keys: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < keys.length; i += IN_LIST_CHUNK) {
      const chunk = keys.slice(i, i + IN_LIST_CHUNK);
      if (chunk.length === 0) continue;
      for (const p of await this.q.db.selectFrom('photos').select('blob_key').where('blob_key', 'in', chunk).execute()) found.add(p.blob_key);
      for (const a of await this.q.db.selectFrom('attachments').select('blob_key').where('blob_key', 'in', chunk).execute()) {
        if (a.blob_key) found.add(a.blob_key);
      }
    }
    return found;
  }

  async reset(): Promise<void> {
    const wipe = async (db: QueryContext['db']) => {
      for (const table of TABLES_IN_DELETION_ORDER) await db.deleteFrom(table).execute();
    };
    await (this.q.inTransaction ? wipe(this.q.db) : this.q.db.transaction().execute(wipe));
  }
}
