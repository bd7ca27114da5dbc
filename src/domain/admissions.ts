/**
 * Admission of a call under its org's limits, before the call does anything: a slot of the user's concurrency for
 * the OAuth client (and of the sub-concurrency for heavy calls), then the call's credits. Both counters live in the
 * metadata store, so every instance on one database shares them (docs/deployment.md, "Limits across instances").
 *
 * So that a busy org costs the store little, an instance keeps a little ahead: credits in chunks (credit-reserves.ts),
 * and some of the slots its calls gave back, kept for its next calls instead of returned to the store (at most an
 * eighth of the limit, at most MAX_SPARE_SLOTS, none under a limit below 8, so that small limits are exact), which it
 * returns to the store once they stay unused for a control poll.
 * Across instances a limit may therefore refuse a little early, never late.
 *
 * An instance also keeps what it holds in memory and writes it to its lease: on every heartbeat (control-loop.ts), and
 * before it takes a slot of a key beyond what its lease already says, so that a lease never says less than the
 * instance holds. A live instance frees the slots of one whose lease expired (it died without giving them back), from
 * that lease's holdings: nothing it held stays taken, and at most what it gave back since its last heartbeat is freed
 * twice (the count then runs that much low until the other instances' calls end). Leases count real time, never the
 * movable clock.
 */
import type { Principal } from './access.js';
import { CreditReserves } from './credit-reserves.js';
import { type ErrorName, type ZohoError, zohoError } from './errors.js';
import { CREDIT_COST, HEAVY_OPERATIONS, creditBucket, showsRemainingCredits } from './limits.js';
import type { LimitsLookup } from './limits-lookup.js';
import type { ApiOperation } from './operations.js';
import type { Holdings } from './ports/limits.js';
import type { DomainLogger } from './ports/logger.js';
import type { MetadataView } from './ports/metadata.js';

/** A call let in: the credits left (when they are to be shown), and the slots to give back once its response ends. */
export interface Admission {
  /** For `X-API-CREDITS-REMAINING`; undefined when the header is not sent (no credit limit, or less than half used). */
  creditsRemaining: number | undefined;
  /** Whether the call holds concurrency slots that `release` must give back (none when no concurrency limit applies). */
  holdsSlots: boolean;
  /** Gives the call's slots back; idempotent. */
  release(): void;
}

export type AdmissionResult =
  | { admitted: true; admission: Admission }
  | { admitted: false; error: ZohoError; mark: string; creditsRemaining: number | undefined };

const NOTHING_HELD: Admission = Object.freeze({ creditsRemaining: undefined, holdsSlots: false, release: () => {} });

/** How long a lease outlives its last heartbeat. */
export const LEASE_MS = 15_000;
/** Expired leases freed per heartbeat at most. */
const REAP_BATCH = 16;
/** Slots of one key an instance keeps for its next calls instead of giving them back to the store. */
export const MAX_SPARE_SLOTS = 64;

/** Spare slots allowed under `limit`: an eighth of it, none below 8, so that a small limit is exact across instances. */
function spareCap(limit: number): number {
  return Math.min(MAX_SPARE_SLOTS, Math.floor(limit / 8));
}

export interface AdmissionsDeps {
  store: MetadataView<'limits'>;
  limits: LimitsLookup;
  /** The (possibly movable) clock: credit windows. */
  now: () => number;
  /** Real time: leases. */
  realNow: () => number;
  instanceId: string;
  log: DomainLogger;
}

function add(map: Map<string, number>, key: string, n: number): void {
  const v = (map.get(key) ?? 0) + n;
  if (v > 0) map.set(key, v);
  else map.delete(key);
}

function refusal(error: ErrorName, mark: string, details: Record<string, unknown>, creditsRemaining?: number): AdmissionResult {
  return { admitted: false, error: zohoError(error, details), mark, creditsRemaining };
}

export class Admissions {
  /** Slots this instance's calls hold, per key. */
  private readonly held = new Map<string, number>();
  /** Slots taken in the store that no call of this instance holds (kept for the next calls), per key. */
  private readonly spare = new Map<string, number>();
  /** The limit each key was last taken under. */
  private readonly limitOf = new Map<string, number>();
  /** Keys taken from since the last heartbeat: a key's spare slots go back once it stays unused a whole poll. */
  private readonly usedSinceBeat = new Set<string>();
  private readonly credits: CreditReserves;
  /** Slots whose giving back failed (the database was unreachable): retried on every heartbeat. */
  private readonly owed = new Map<string, number>();
  /** Slots being given back right now. */
  private readonly returning = new Map<string, number>();
  private readonly releasing = new Set<Promise<void>>();
  private leaseWritten = false;
  /** What the lease says, per key; a slot beyond it is written to the lease before it is taken. */
  private readonly recorded = new Map<string, number>();
  /** Lease writes, one after the other: each writes the holdings of its own moment, so the last written is the newest. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AdmissionsDeps) {
    this.credits = new CreditReserves(deps.store);
  }

  /** Lets the call in, or says which limit refuses it. */
  async admit(principal: Principal, operation: ApiOperation): Promise<AdmissionResult> {
    const orgId = principal.org.id;
    const limits = this.deps.limits.cached(orgId) ?? (await this.deps.limits.effective(orgId));
    if (limits.credits === undefined && limits.concurrency === undefined && limits.subConcurrency === undefined) {
      return { admitted: true, admission: NOTHING_HELD };
    }
    const scope = `${orgId}|${principal.user.id}|${principal.clientId ?? '-'}`;
    const taken: string[] = [];
    const giveBack = () => {
      for (const key of taken.splice(0)) this.release(key);
    };
    try {
      if (limits.concurrency !== undefined) {
        const key = `${scope}|all`;
        if (!(await this.take(key, limits.concurrency))) return refusal('CONCURRENCY_LIMIT', 'limit:concurrency', { limit: 'concurrency', maximum: limits.concurrency });
        taken.push(key);
      }
      if (limits.subConcurrency !== undefined && HEAVY_OPERATIONS.has(operation)) {
        const key = `${scope}|heavy`;
        if (!(await this.take(key, limits.subConcurrency))) {
          return refusal('SUB_CONCURRENCY_LIMIT', 'limit:sub-concurrency', { limit: 'sub_concurrency', maximum: limits.subConcurrency });
        }
        taken.push(key);
      }
      let creditsRemaining: number | undefined;
      if (limits.credits !== undefined) {
        const { spent, remaining } = await this.credits.spend(orgId, CREDIT_COST[operation], limits.credits, creditBucket(this.deps.now()));
        if (!spent) return refusal('CREDITS_EXHAUSTED', 'limit:credits', { limit: 'credits', maximum: limits.credits }, remaining);
        if (showsRemainingCredits(limits.credits, remaining)) creditsRemaining = remaining;
      }
      const keys = taken.splice(0);
      let released = false;
      return {
        admitted: true,
        admission: {
          creditsRemaining,
          holdsSlots: keys.length > 0,
          release: () => {
            if (released) return;
            released = true;
            for (const key of keys) this.release(key);
          },
        },
      };
    } finally {
      // Whatever refused the call (or failed) gives back what was taken before it.
      giveBack();
    }
  }

  private async take(key: string, limit: number): Promise<boolean> {
    this.usedSinceBeat.add(key);
    if (this.limitOf.get(key) !== limit) {
      // Spare slots were taken under another limit: they go back before any is used under this one.
      this.giveBackSpare(key);
      this.limitOf.set(key, limit);
    }
    const spare = this.spare.get(key) ?? 0;
    if (spare > 0) {
      if (spare > 1) this.spare.set(key, spare - 1);
      else this.spare.delete(key);
      this.held.set(key, (this.held.get(key) ?? 0) + 1);
      return true;
    }
    // Counted as held before it is taken: should the instance die in between, its lease says one slot too many,
    // which errs on the side of freeing, never of leaking.
    const n = (this.held.get(key) ?? 0) + 1;
    this.held.set(key, n);
    try {
      if (n > (this.recorded.get(key) ?? 0)) await this.recordHoldings();
      if (await this.deps.store.limits.acquireSlot(key, limit)) return true;
    } catch (err) {
      this.forget(key);
      throw err;
    }
    this.forget(key);
    return false;
  }

  /** Takes a slot of `key` out of this instance's holdings (not out of the store). */
  private forget(key: string): void {
    const n = (this.held.get(key) ?? 1) - 1;
    if (n > 0) this.held.set(key, n);
    else this.held.delete(key);
  }

  /** Writes the holdings of this moment to the lease, after every write queued before. */
  private recordHoldings(): Promise<void> {
    const write = this.writing.then(async () => {
      const holdings = this.holdings();
      await this.deps.store.limits.heartbeat(this.deps.instanceId, this.deps.realNow() + LEASE_MS, holdings);
      this.leaseWritten = true;
      this.recorded.clear();
      for (const [k, n] of Object.entries(holdings)) this.recorded.set(k, n);
    });
    this.writing = write.catch(() => {});
    return write;
  }

  private release(key: string): void {
    this.forget(key);
    const spare = this.spare.get(key) ?? 0;
    if (spare < spareCap(this.limitOf.get(key) ?? 0)) this.spare.set(key, spare + 1);
    else this.giveBack(key, 1);
  }

  private giveBackSpare(key: string): void {
    const n = this.spare.get(key) ?? 0;
    this.spare.delete(key);
    if (n > 0) this.giveBack(key, n);
  }

  /**
   * Gives `n` slots of `key` back to the store; they count as held until the store has them back (a lease written
   * meanwhile must not say less than the store counts), and are retried at the next heartbeat if it cannot be reached.
   */
  private giveBack(key: string, n: number): void {
    add(this.returning, key, n);
    const done: Promise<void> = this.deps.store.limits.releaseSlots(key, n).then(
      () => add(this.returning, key, -n),
      (err: unknown) => {
        add(this.returning, key, -n);
        add(this.owed, key, n);
        this.deps.log.warn({ err, key }, 'concurrency slots could not be given back; retrying at the next heartbeat');
      },
    );
    const tracked = done.finally(() => this.releasing.delete(tracked));
    this.releasing.add(tracked);
  }

  /** What this instance holds in the store: its calls' slots, spare ones, those on their way back or owed. */
  holdings(): Holdings {
    const out: Holdings = {};
    for (const map of [this.held, this.spare, this.returning, this.owed]) for (const [k, n] of map) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /** Slots this instance keeps spare, per key (the usage report counts them as free). */
  spareSlots(): Record<string, number> {
    return Object.fromEntries(this.spare);
  }

  /** Credits of the org this instance took ahead and has not used (the usage report counts them as unspent). */
  unusedCredits(orgId: string): number {
    return this.credits.unused(orgId, creditBucket(this.deps.now()));
  }

  /** After limits or spending were changed through this instance: nothing kept ahead under the old ones is used. */
  reset(): void {
    this.credits.forget();
    for (const key of [...this.spare.keys()]) this.giveBackSpare(key);
  }

  /**
   * Gives back what failed to go back before, renews this instance's lease with what it holds, and frees the slots of
   * instances whose leases expired. Writes the lease only while something is or was held.
   */
  async heartbeat(): Promise<void> {
    const { store, realNow } = this.deps;
    for (const [key, n] of [...this.owed]) {
      await store.limits.releaseSlots(key, n);
      this.owed.delete(key);
    }
    for (const key of [...this.spare.keys()]) if (!this.usedSinceBeat.has(key)) this.giveBackSpare(key);
    this.usedSinceBeat.clear();
    await Promise.all([...this.releasing]);
    if (this.held.size > 0 || this.owed.size > 0 || this.leaseWritten) await this.recordHoldings();
    for (let i = 0; i < REAP_BATCH; i++) {
      const freed = await store.transaction(async (tx) => {
        const lease = await tx.limits.takeExpiredLease(realNow());
        if (!lease) return undefined;
        for (const [key, n] of Object.entries(lease.holdings)) if (n > 0) await tx.limits.releaseSlots(key, n);
        return lease;
      });
      if (!freed) break;
      if (Object.keys(freed.holdings).length > 0) this.deps.log.warn({ instance: freed.instanceId, holdings: freed.holdings }, 'freed the concurrency slots of an instance whose lease expired');
    }
  }

  /** After the server stopped taking requests: gives everything back and drops the lease. */
  async close(): Promise<void> {
    await Promise.all([...this.releasing]);
    for (const [key, n] of Object.entries(this.holdings())) {
      await this.deps.store.limits.releaseSlots(key, n).catch(() => {});
    }
    this.held.clear();
    this.spare.clear();
    this.returning.clear();
    this.owed.clear();
    if (this.leaseWritten) await this.deps.store.limits.dropLease(this.deps.instanceId).catch(() => {});
  }
}
