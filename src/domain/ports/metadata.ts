/**
 * The metadata store as the rules see it: one port per aggregate, each small enough to implement on its own, and
 * transactions that hand out the same ports bound to them. Implementations: SQLite and PostgreSQL (storage/metadata).
 * A service states the ports it uses (`MetadataView<'records' | 'photos'>`), and gets nothing more, inside its
 * transactions too.
 */
import type { AttachmentStore } from './attachments.js';
import type { ClockStore } from './clock.js';
import type { DirectoryStore } from './directory.js';
import type { FaultStore } from './faults.js';
import type { LimitStore } from './limits.js';
import type { MaintenanceStore } from './maintenance.js';
import type { PhotoStore } from './photos.js';
import type { RecordStore } from './records.js';
import type { StorageStore } from './storage.js';
import type { AccessTokenStore, OAuthStore } from './tokens.js';
import type { OutboxStore, WorkflowRuleStore } from './workflows.js';

export interface MetadataPorts {
  records: RecordStore;
  photos: PhotoStore;
  attachments: AttachmentStore;
  directory: DirectoryStore;
  tokens: AccessTokenStore;
  oauth: OAuthStore;
  workflows: WorkflowRuleStore;
  outbox: OutboxStore;
  maintenance: MaintenanceStore;
  limits: LimitStore;
  storage: StorageStore;
  faults: FaultStore;
  clock: ClockStore;
}

/**
 * Some of the ports, and transactions over the same ports. `transaction` runs `fn` in one transaction whose ports are
 * bound to it; called on ports that are already bound to a transaction, it joins that one. A failure of COMMIT
 * itself is reported as CommitOutcomeUnknownError (metadata-errors.ts).
 */
export type MetadataView<K extends keyof MetadataPorts> = Pick<MetadataPorts, K> & {
  transaction<T>(fn: (tx: MetadataView<K>) => Promise<T>): Promise<T>;
};

export interface MetadataStore extends MetadataView<keyof MetadataPorts> {
  /** Throws when the database cannot be reached (readiness). */
  ping(): Promise<void>;
  /**
   * Resolves once everything committed so far survives a power loss. Called before a change is acknowledged; an
   * engine whose commits are durable by themselves (PostgreSQL) resolves at once.
   */
  durable(): Promise<void>;
  close(): Promise<void>;
}
