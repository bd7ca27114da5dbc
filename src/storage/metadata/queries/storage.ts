import { sql } from 'kysely';
import type { StorageStore } from '../../../domain/ports/storage.js';
import type { QueryContext } from '../query-context.js';

export class StorageQueries implements StorageStore {
  constructor(private readonly q: QueryContext) {}

  async add(orgId: string, delta: number): Promise<number> {
    const [row] = await this.q.compiledOnce(
      'storage.add',
      () =>
        this.q.db
          .insertInto('org_storage')
          .values({ org_id: orgId, used_bytes: delta })
          .onConflict((oc) => oc.column('org_id').doUpdateSet({ used_bytes: sql<number>`org_storage.used_bytes + excluded.used_bytes` }))
          .returning('used_bytes'),
      [orgId, delta],
    );
    return Number(row!.used_bytes);
  }

  async used(orgId: string): Promise<number> {
    const r = await this.q.db.selectFrom('org_storage').select('used_bytes').where('org_id', '=', orgId).executeTakeFirst();
    return r ? Number(r.used_bytes) : 0;
  }

  async recount(orgId: string): Promise<number> {
    const photos = this.q.db.selectFrom('photos').select(sql<number>`coalesce(sum(size), 0)`.as('n')).where('org_id', '=', orgId);
    const attachments = this.q.db.selectFrom('attachments').select(sql<number>`coalesce(sum(size), 0)`.as('n')).where('org_id', '=', orgId);
    const [p, a] = await Promise.all([photos.executeTakeFirstOrThrow(), attachments.executeTakeFirstOrThrow()]);
    const total = Number(p.n) + Number(a.n);
    await this.q.db
      .insertInto('org_storage')
      .values({ org_id: orgId, used_bytes: total })
      .onConflict((oc) => oc.column('org_id').doUpdateSet({ used_bytes: total }))
      .execute();
    return total;
  }
}
