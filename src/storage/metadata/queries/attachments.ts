import { sql } from 'kysely';
import type { Attachment } from '../../../domain/entities.js';
import type { AttachmentStore } from '../../../domain/ports/attachments.js';
import type { Page } from '../../../domain/ports/page.js';
import { IN_LIST_CHUNK, type QueryContext, affected } from '../query-context.js';
import { readAttachment, writeAttachment } from '../rows.js';

export class AttachmentQueries implements AttachmentStore {
  constructor(private readonly q: QueryContext) {}

  async insert(attachment: Attachment): Promise<void> {
    await this.q.db.insertInto('attachments').values(writeAttachment(attachment)).execute();
  }

  async get(orgId: string, recordId: string, id: string): Promise<Attachment | undefined> {
    const [r] = await this.q.compiledOnce(
      'attachments.get',
      () =>
        this.q.db.selectFrom('attachments').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId).where('id', '=', id),
      [orgId, recordId, id],
    );
    return r && readAttachment(r);
  }

  async list(orgId: string, recordId: string, page: Page, ids?: readonly string[]): Promise<Attachment[]> {
    let q = this.q.db.selectFrom('attachments').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId);
    if (ids) {
      if (ids.length === 0) return [];
      // The domain bounds the list (a page's worth); silently answering for fewer ids would be wrong.
      if (ids.length > IN_LIST_CHUNK) throw new Error(`listing attachments: at most ${IN_LIST_CHUNK} ids`);
      q = q.where('id', 'in', ids);
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute();
    return rows.map(readAttachment);
  }

  async delete(orgId: string, recordId: string, id: string): Promise<boolean> {
    const r = await this.q.db
      .deleteFrom('attachments')
      .where('org_id', '=', orgId)
      .where('record_id', '=', recordId)
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async totalSize(orgId: string, recordId: string): Promise<number> {
    const r = await this.q.db
      .selectFrom('attachments')
      .select(sql<number>`coalesce(sum(size), 0)`.as('n'))
      .where('org_id', '=', orgId)
      .where('record_id', '=', recordId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async deleteAllOf(orgId: string, recordId: string): Promise<Attachment[]> {
    const rows = await this.q.db.selectFrom('attachments').selectAll().where('org_id', '=', orgId).where('record_id', '=', recordId).execute();
    await this.q.db.deleteFrom('attachments').where('org_id', '=', orgId).where('record_id', '=', recordId).execute();
    return rows.map(readAttachment);
  }
}
