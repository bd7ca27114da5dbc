import type { CrmRecord, Photo, RecordState } from '../../../domain/entities.js';
import type { Page } from '../../../domain/ports/page.js';
import type { RecordStore } from '../../../domain/ports/records.js';
import { type QueryContext, affected, aliased, insertingUnique, unaliasing } from '../query-context.js';
import { readPhoto, readRecord, writeRecord } from '../rows.js';
import { COLUMNS, type PhotosTable, type RecordsTable } from '../schema.js';

const recordOfJoin = unaliasing<RecordsTable>('r', COLUMNS.records);
const photoOfJoin = unaliasing<PhotosTable>('p', COLUMNS.photos);

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

  async getWithPhoto(orgId: string, id: string): Promise<{ record: CrmRecord; photo: Photo | undefined } | undefined> {
    // One round trip for a photo download: the record (for the access checks) and its photo row side by side.
    const [joined] = (await this.q.compiledOnce(
      'records.getWithPhoto',
      () =>
        this.q.db
          .selectFrom('records as r')
          .leftJoin('photos as p', (j) => j.onRef('p.org_id', '=', 'r.org_id').onRef('p.record_id', '=', 'r.id'))
          .select([...aliased('r', COLUMNS.records), ...aliased('p', COLUMNS.photos)])
          .where('r.org_id', '=', orgId)
          .where('r.id', '=', id),
      [orgId, id],
    )) as Record<string, unknown>[];
    if (!joined) return undefined;
    const record = readRecord(recordOfJoin(joined));
    const photo = joined['p_record_id'] === null ? undefined : readPhoto(photoOfJoin(joined));
    return { record, photo };
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
    this.mustBeInTransaction();
    const lock = this.q.engine.namedLock;
    if (lock) await lock(`${orgId}:${recordId}`).execute(this.q.db);
  }

  async lockAndGet(orgId: string, recordId: string): Promise<CrmRecord | undefined> {
    this.mustBeInTransaction();
    if (!this.q.engine.rowLocks) return this.get(orgId, recordId);
    // The record's row lock, taken by the statement that reads it: PostgreSQL reads the row again once the lock is
    // granted, so what comes back is what the previous holder committed (a lock taken beside a plain read would not
    // be: that read's snapshot predates the wait). NO KEY: the lock does not block rows that reference the record.
    const [r] = await this.q.compiledOnce(
      'records.lockAndGet',
      () => this.q.db.selectFrom('records').selectAll().where('org_id', '=', orgId).where('id', '=', recordId).forNoKeyUpdate(),
      [orgId, recordId],
    );
    return r && readRecord(r);
  }

  private mustBeInTransaction(): void {
    if (!this.q.inTransaction) throw new Error('locking a record needs a transaction');
  }
}
