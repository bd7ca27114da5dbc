/**
 * The one way a record's media change is committed: in one transaction that holds the record's lock, the change
 * writes its rows and names the workflow events it causes (queued in the same transaction, so an event exists exactly
 * when its change committed) and the bytes it stops referencing (retired only after the commit, once it is durable).
 * Photos, attachments and record deletion all commit through here.
 */
import type { BlobJanitor } from './blob-cleanup.js';
import type { CrmRecord } from './entities.js';
import type { MetadataPorts, MetadataView } from './ports/metadata.js';
import { type ActiveRules, type ChangeEvent, queueWorkflowEvents } from './workflow-rules.js';

/** The ports every change needs besides its own: the record's lock, the rules and the outbox. */
type ChangePorts = 'records' | 'workflows' | 'outbox';

export interface ChangeOutcome<T> {
  value: T;
  /** The workflow events the change causes. */
  events?: readonly ChangeEvent[];
  /** Blob keys no row references once the change has committed. */
  retired?: readonly (string | null)[];
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
      return { value: outcome.value, queued, retired: outcome.retired ?? [] };
    });
    if (queued > 0) this.deps.workflowEventsQueued();
    for (const key of retired) if (key) this.deps.janitor.retire(key);
    return value;
  }
}
