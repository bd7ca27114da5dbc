/**
 * Enough of Zoho's Records API to make, read and delete records without admin tools. Field values are kept as
 * given; deleting a record deletes its photo and attachments.
 */
import { type AccessLookups, type Principal, authorizeModule, checkRecordSharing, checkRecordState } from './access.js';
import type { BlobJanitor } from './blob-cleanup.js';
import type { ModuleCall, RecordCall } from './calls.js';
import type { CrmRecord } from './entities.js';
import { ZohoError, zohoError } from './errors.js';
import { idList, isZohoId, newZohoId } from './ids.js';
import type { MetadataView } from './ports/metadata.js';
import { RecordChanges } from './record-changes.js';
import type { ItemResult } from './results.js';

export const MAX_RECORDS_PER_INSERT = 100;
export const MAX_IDS_PER_DELETE = 100;

/** System fields a client cannot set; Zoho ignores them on insert. */
const READ_ONLY_FIELDS = new Set(['id', 'Created_Time', 'Modified_Time', 'Created_By', 'Modified_By', 'Owner']);

export interface RecordServiceDeps {
  janitor: BlobJanitor;
  store: MetadataView<'records' | 'photos' | 'attachments' | 'directory' | 'workflows' | 'outbox' | 'storage'>;
  /** Module settings and records for the access checks (module settings cached). */
  access: AccessLookups;
  now: () => number;
}

export class RecordService {
  private readonly changes: RecordChanges<'records' | 'photos' | 'attachments' | 'directory' | 'workflows' | 'outbox' | 'storage'>;

  constructor(private readonly deps: RecordServiceDeps) {
    // Deleting a record queues no workflow event (the rules watch media changes only).
    this.changes = new RecordChanges({ ...deps, rules: async () => [], workflowEventsQueued: () => {} });
  }

  /** Inserts each item of `data`; an invalid item gets its own error and does not stop the others. */
  async insert(call: ModuleCall<'record.insert'>, body: unknown): Promise<ItemResult<CrmRecord>[]> {
    const { principal } = call;
    const { module } = await authorizeModule(this.deps.access, call);
    const items = recordItems(body);
    const results: ItemResult<CrmRecord>[] = [];
    for (const item of items) {
      try {
        results.push({ ok: true, value: await this.insertOne(principal, module.apiName, item) });
      } catch (err) {
        if (!(err instanceof ZohoError)) throw err;
        results.push({ ok: false, error: err });
      }
    }
    return results;
  }

  private async insertOne(principal: Principal, module: string, item: unknown): Promise<CrmRecord> {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw zohoError('INVALID_DATA', { expected_data_type: 'jsonobject' }, 'record.insert');
    }
    const fields = item as Record<string, unknown>;
    const ownerId = await this.ownerOf(principal, fields['Owner']);
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (!READ_ONLY_FIELDS.has(k)) data[k] = v;
    const now = this.deps.now();
    const record: CrmRecord = {
      id: newZohoId(),
      orgId: principal.org.id,
      module,
      ownerId,
      data,
      state: 'normal',
      createdBy: principal.user.id,
      createdAt: now,
      modifiedBy: principal.user.id,
      modifiedAt: now,
    };
    await this.deps.store.records.insert(record);
    return record;
  }

  /** `Owner` may name another user of the org (`{"id": "…"}` or the id itself); default is the caller. */
  private async ownerOf(principal: Principal, owner: unknown): Promise<string> {
    if (owner === undefined || owner === null) return principal.user.id;
    const id = typeof owner === 'object' ? (owner as { id?: unknown }).id : owner;
    if (typeof id === 'string' && isZohoId(id) && (await this.deps.store.directory.getUser(principal.org.id, id))) return id;
    throw zohoError('INVALID_DATA', { api_name: 'Owner', expected_data_type: 'lookup' }, 'record.insert');
  }

  async get(call: RecordCall<'record.get'>): Promise<CrmRecord> {
    const { principal } = call;
    const access = await authorizeModule(this.deps.access, call);
    const record = await this.findInModule(principal, access.module.apiName, call.recordId);
    if (!record) throw zohoError('INVALID_ID', { id: call.recordId }, call.operation);
    checkRecordSharing(principal, call.operation, record, access.sharing);
    return record;
  }

  /**
   * Deletes the record the call names, or each id of `?ids=`; a bad, foreign, locked or unshared id gets its own
   * error and does not stop the others.
   */
  async delete(call: ModuleCall<'record.delete'> & { recordId?: string }, idsParam?: string): Promise<ItemResult<string>[]> {
    const { principal } = call;
    const access = await authorizeModule(this.deps.access, call);
    const ids = call.recordId !== undefined ? [call.recordId] : idList(idsParam, MAX_IDS_PER_DELETE, call.operation);
    const results: ItemResult<string>[] = [];
    for (const id of ids) {
      try {
        if (!isZohoId(id)) throw zohoError('INVALID_ID', { id }, 'record.delete');
        // Judged on the locked row: a lock or a new owner set meanwhile counts.
        const deleted = await this.deleteCascade(principal.org.id, id, (record) => {
          if (!inModule(record, access.module.apiName)) throw zohoError('INVALID_ID', { id }, 'record.delete');
          checkRecordSharing(principal, 'record.delete', record, access.sharing);
          checkRecordState('record.delete', record);
        });
        if (!deleted) throw zohoError('INVALID_ID', { id }, 'record.delete');
        results.push({ ok: true, value: id });
      } catch (err) {
        if (!(err instanceof ZohoError)) throw err;
        results.push({ ok: false, error: err });
      }
    }
    return results;
  }

  private async findInModule(principal: Principal, module: string, id: string): Promise<CrmRecord | undefined> {
    if (!isZohoId(id)) return undefined;
    const record = await this.deps.store.records.get(principal.org.id, id);
    return record && inModule(record, module) ? record : undefined;
  }

  /**
   * Removes the record, its photo and its attachments in one transaction, then their bytes. False when the record
   * was already gone. `check` judges the locked row first; what it throws stops the deletion.
   */
  async deleteCascade(orgId: string, recordId: string, check?: (record: CrmRecord) => void): Promise<boolean> {
    return this.changes.commit(orgId, recordId, async (tx, record) => {
      if (!record) return { value: false };
      check?.(record);
      const photo = await tx.photos.get(orgId, recordId);
      if (photo) await tx.photos.delete(orgId, recordId);
      const attachments = await tx.attachments.deleteAllOf(orgId, recordId);
      await tx.records.delete(orgId, recordId);
      const freed = (photo?.size ?? 0) + attachments.reduce((n, a) => n + a.size, 0);
      return { value: true, retired: [photo?.blobKey ?? null, ...attachments.map((a) => a.blobKey)], storage: { delta: -freed } };
    });
  }
}

function inModule(record: CrmRecord, module: string): boolean {
  return record.module.toLowerCase() === module.toLowerCase();
}

function recordItems(body: unknown): unknown[] {
  const data = typeof body === 'object' && body !== null ? (body as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) {
    throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'data' }, 'record.insert');
  }
  if (data.length === 0 || data.length > MAX_RECORDS_PER_INSERT) {
    throw zohoError('LIMIT_EXCEEDED', { param_name: 'data', limit: MAX_RECORDS_PER_INSERT }, 'record.insert');
  }
  return data;
}
