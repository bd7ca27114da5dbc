import type { CrmRecord, RecordState } from '../../../domain/entities.js';
import type { Page } from '../../../domain/ports/page.js';
import type { RecordStore } from '../../../domain/ports/records.js';
import { type QueryContext, affected, insertingUnique } from '../query-context.js';
import { readRecord, writeRecord } from '../rows.js';

export class RecordQueries implements RecordStore {
  constructor(private readonly q: QueryContext) {}

  async insert(record: CrmRecord): Promise<void> {
    await insertingUnique(this.q.db.insertInto('records').values(writeRecord(record)).execute());
  }

  async get(orgId: string, id: string): Promise<CrmRecord | undefined> {
    const [r] = await this.q.compiledOnce(
      'records.get',
      () => this.q.db.selectFrom('records').selectAll().where('org_id', '=', orgId).where('id', '=', id),
      [orgId, id],
    );
    return r && readRecord(r);
  }

  list(orgId: string, module: string, page: Page): Promise<CrmRecord[]> {
    return this.listOldestFirst(orgId, module, page);
  }

  listOfOrg(orgId: string, page: Page): Promise<CrmRecord[]> {
    return this.listOldestFirst(orgId, undefined, page);
  }

  /** A page of the org's records (of one module, if named), oldest first. */
  private async listOldestFirst(orgId: string, module: string | undefined, page: Page): Promise<CrmRecord[]> {
    let q = this.q.db.selectFrom('records').selectAll().where('org_id', '=', orgId);
    if (module !== undefined) q = q.where('module', '=', module);
    const rows = await q.orderBy('created_at').orderBy('id').limit(page.limit).offset(page.offset).execute();
    return rows.map(readRecord);
  }

  async setState(orgId: string, id: string, state: RecordState, at: number): Promise<boolean> {
    const r = await this.q.db
      .updateTable('records')
      .set({ state, modified_at: at })
      .where('org_id', '=', orgId)
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    return affected(await this.q.db.deleteFrom('records').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst()) > 0;
  }

  async lock(orgId: string, recordId: string): Promise<void> {
    if (!this.q.inTransaction) throw new Error('locking a record needs a transaction');
    await this.q.engine.lockRecord(this.q.db, orgId, recordId);
  }
}
