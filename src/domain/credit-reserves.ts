/**
 * Credits an instance takes from its org's shared window ahead of its calls, so that a busy org costs one statement
 * per chunk of calls instead of one per call. A chunk is at most MAX_CREDIT_CHUNK credits and at most a sixteenth of
 * the room the window had at the last spending, so it shrinks to single credits as the limit nears: with a small
 * limit (a test's) every call is counted on its own, exactly. Credits taken and not used are spent all the same: an
 * org may meet its limit up to one chunk per instance early, and never passes it. A reserve is used within the hourly
 * bucket it was taken in only (what is left then stays spent), so that no call's credit comes back sooner than 24
 * hours after the call.
 */
import type { MetadataPorts } from './ports/metadata.js';

export const MAX_CREDIT_CHUNK = 64;
/** A chunk takes at most this share of the room left in the window. */
const CHUNK_SHARE = 16;
/** Refills a caller waits for or makes before it spends on its own, exactly. */
const REFILL_ATTEMPTS = 4;

interface Reserve {
  bucket: number;
  limit: number;
  /** Credits taken and not used yet. */
  left: number;
  /** The window's total right after the chunk was taken. */
  usedAfter: number;
}

export interface Spending {
  spent: boolean;
  /** What the org has left as far as this instance knows (its own unused credits count as left). */
  remaining: number;
}

export class CreditReserves {
  private readonly reserves = new Map<string, Reserve>();
  private readonly refills = new Map<string, Promise<Spending | undefined>>();

  constructor(private readonly store: Pick<MetadataPorts, 'limits'>) {}

  async spend(orgId: string, cost: number, limit: number, bucket: number): Promise<Spending> {
    // The reserve is looked at again after every refill, the last included: a caller that gives up on refills while
    // the one it waited for left credits behind would strand them (no later call may come to use them).
    for (let attempt = 0; ; attempt++) {
      const r = this.reserves.get(orgId);
      if (r && r.bucket === bucket && r.limit === limit && r.left >= cost) {
        r.left -= cost;
        return { spent: true, remaining: limit - r.usedAfter + r.left };
      }
      if (attempt === REFILL_ATTEMPTS) break;
      // One refill per org at a time: the calls that arrive meanwhile share it.
      let refill = this.refills.get(orgId);
      const own = refill === undefined;
      if (!refill) {
        refill = this.refill(orgId, cost, limit, bucket, r).finally(() => this.refills.delete(orgId));
        this.refills.set(orgId, refill);
      }
      const refused = await refill;
      if (refused && own) return refused;
    }
    const exact = await this.store.limits.spendCredits(orgId, cost, limit, bucket);
    return { spent: exact.spent, remaining: Math.max(0, limit - exact.used) };
  }

  /** Takes a new chunk; undefined when it did (the caller takes from it), or the refusal. */
  private async refill(orgId: string, cost: number, limit: number, bucket: number, old: Reserve | undefined): Promise<Spending | undefined> {
    const room = old && old.bucket === bucket && old.limit === limit ? limit - old.usedAfter : limit;
    let chunk = Math.max(cost, Math.min(MAX_CREDIT_CHUNK, Math.floor(room / CHUNK_SHARE)));
    let result = await this.store.limits.spendCredits(orgId, chunk, limit, bucket);
    if (!result.spent && chunk > cost && limit - result.used >= cost) {
      // Less room than the chunk: take what is left.
      chunk = limit - result.used;
      result = await this.store.limits.spendCredits(orgId, chunk, limit, bucket);
    }
    if (!result.spent) {
      this.reserves.delete(orgId);
      return { spent: false, remaining: Math.max(0, limit - result.used) };
    }
    this.reserves.set(orgId, { bucket, limit, left: chunk, usedAfter: result.used });
    return undefined;
  }

  /** Credits of the org this instance took and has not used (for the usage report). */
  unused(orgId: string, bucket: number): number {
    const r = this.reserves.get(orgId);
    return r && r.bucket === bucket ? r.left : 0;
  }

  /** After the org's limits or spending changed here (limits set, credits reset): take afresh. */
  forget(): void {
    this.reserves.clear();
  }
}
