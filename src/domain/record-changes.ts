/**
 * The one way a record's media change is committed: in one transaction that holds the record's lock, the change
 * writes its rows and names the workflow events it causes (queued in the same transaction, so an event exists exactly
 * when its change committed) and the bytes it stops referencing (retired only after the commit, once it is durable).
 * Photos, attachments and record deletion all commit through here.
 */
import type { BlobJanitor } from './blob-cleanup.js';
import type { CrmRecord } from './entities.js';
import type { MetadataPorts, MetadataView } from './ports/metadata.js';
import { storageExceeded } from './storage-quota.js';
import { type ActiveRules, type ChangeEvent, queueWorkflowEvents } from './workflow-rules.js';

/** The ports every change needs besides its own: the record's lock, the rules, the outbox and the storage counter. */
type ChangePorts = 'records' | 'workflows' | 'outbox' | 'storage';

export interface ChangeOutcome<T> {
  value: T;
  /** The workflow events the change causes. */
  events?: readonly ChangeEvent[];
  /** Blob keys no row references once the change has committed. */
  retired?: readonly (string | null)[];
  /**
   * Bytes of file storage the change adds to the org (negative: frees), and the org's quota if it has one: a change
   * that adds bytes beyond the quota fails and nothing of it is kept.
   */
  storage?: { delta: number; quota?: number | undefined };
}

export interface RecordChangeDeps<K extends keyof MetadataPorts> {
  store: MetadataView<K | ChangePorts>;
  /** The active rules a change triggers. */
  rules: ActiveRules;
  janitor: BlobJanitor;
  /** Told after a commit that queued workflow events, so that delivery need not wait for its next poll. */
  workflowEventsQueued: () => void;
  now: () => number;
}

export class RecordChanges<K extends keyof MetadataPorts> {
  constructor(private readonly deps: RecordChangeDeps<K>) {}

  /**
   * Commits `change` under the lock of record `recordId`. `change` gets the record as it is once the lock is held
   * (undefined when it is gone: deleted while a body arrived), and the change's time, taken then too. What `change`
   * throws rolls everything back; nothing is queued or retired then.
   */
  async commit<T>(
    orgId: string,
    recordId: string,
    change: (tx: MetadataView<K | ChangePorts>, current: CrmRecord | undefined, now: number) => Promise<ChangeOutcome<T>>,
  ): Promise<T> {
    const { value, queued, retired } = await this.deps.store.transaction(async (tx) => {
      const current = await tx.records.lockAndGet(orgId, recordId);
      const outcome = await change(tx, current, this.deps.now());
      let queued = 0;
      for (const event of outcome.events ?? []) {
        queued += await queueWorkflowEvents(tx, event, await this.deps.rules(tx.workflows, event.orgId, event.module, event.event));
      }
      const storage = outcome.storage;
      if (storage && storage.delta !== 0) {
        // One counter row per org: concurrent changes of one org serialize on it until they commit (last, so that
        // they hold it briefly), and the quota is judged on exact figures.
        const used = await tx.storage.add(orgId, storage.delta);
        if (storage.quota !== undefined && storage.delta > 0 && used > storage.quota) throw storageExceeded(storage.quota);
      }
      return { value: outcome.value, queued, retired: outcome.retired ?? [] };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    for (const key of retired) if (key) this.deps.janitor.retire(key);
    return value;
  }
}
