import type { OrgLimitSettings } from '../entities.js';

/**
 * The credit window: usage is counted in hourly buckets, and a bucket's credits come back once the whole bucket is
 * older than 24 hours, so a credit is given back 24 to 25 hours after it was spent, never earlier than Zoho's
 * rolling 24 hours.
 */
export const CREDIT_BUCKET_MS = 3_600_000;
export const CREDIT_BUCKETS = 25;


/** How many calls of one key an instance held at its last heartbeat. */
export type Holdings = Record<string, number>;

/**
 * Per-org limits and the counters that enforce them, shared by every instance on one database: the settings, the
 * credits spent per rolling window, the calls in flight per user and client, and the instances' leases that let a
 * live instance free the slots of one that died.
 */
export interface LimitStore {
  getSettings(orgId: string): Promise<OrgLimitSettings | undefined>;
  putSettings(settings: OrgLimitSettings): Promise<void>;
  deleteSettings(orgId: string): Promise<boolean>;

  /**
   * Spends `cost` credits of the org's window in one atomic step if the credits spent in the live window plus
   * `cost` stay within `limit`; `bucket` is the current window bucket (limits.ts `creditBucket`). Returns whether
   * they were spent and the credits spent in the live window afterwards (when refused: before).
   */
  spendCredits(orgId: string, cost: number, limit: number, bucket: number): Promise<{ spent: boolean; used: number }>;
  /** Credits spent in the live window ending at `bucket`. */
  creditsUsed(orgId: string, bucket: number): Promise<number>;
  /** Forgets every credit spent by the org. */
  resetCredits(orgId: string): Promise<void>;

  /** Takes one slot of `key` if fewer than `limit` are taken, in one atomic step. */
  acquireSlot(key: string, limit: number): Promise<boolean>;
  /** Gives back `count` slots of `key` (never below zero). */
  releaseSlots(key: string, count: number): Promise<void>;
  /** Slots taken per key, for keys starting with `prefix`. */
  slotsInUse(prefix: string): Promise<Record<string, number>>;

  /** This instance is alive until `expiresAt`, holding `holdings`. */
  heartbeat(instanceId: string, expiresAt: number, holdings: Holdings): Promise<void>;
  /**
   * Removes one lease that expired before `now` and returns what its instance held, or undefined when none is
   * (another instance may have taken it first: each lease is returned once).
   */
  takeExpiredLease(now: number): Promise<{ instanceId: string; holdings: Holdings } | undefined>;
  /** Removes this instance's lease (graceful shutdown, after it gave back its slots). */
  dropLease(instanceId: string): Promise<void>;
}
