import type { Photo } from '../../../domain/entities.js';
import type { PhotoStore } from '../../../domain/ports/photos.js';
import { type QueryContext, affected } from '../query-context.js';
import { readPhoto, writePhoto } from '../rows.js';

export class PhotoQueries implements PhotoStore {
  constructor(private readonly q: QueryContext) {}

  async get(orgId: string, recordId: string): Promise<Photo | undefined> {
    const [r] = await this.q.compiledOnce(
      'photos.get',
      () => this.q.db.selectFrom('photos').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId),
      [orgId, recordId],
    );
    return r && readPhoto(r);
  }

  async upsert(photo: Photo): Promise<void> {
    const row = writePhoto(photo);
    const { record_id: _key, ...update } = row;
    // Parameters: the inserted row's values, then the updated ones, each in the row's key order.
    await this.q.compiledOnce(
      'photos.upsert',
      () => this.q.db.insertInto('photos').values(row).onConflict((oc) => oc.column('record_id').doUpdateSet(update)),
      [...Object.values(row), ...Object.values(update)],
    );
  }

  async delete(orgId: string, recordId: string): Promise<boolean> {
    const r = await this.q.db.deleteFrom('photos').where('org_id', '=', orgId).where('record_id', '=', recordId).executeTakeFirst();
    return affected(r) > 0;
  }
}
