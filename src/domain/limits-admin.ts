/**
 * Administration of limits, faults and the movable clock: what the admin API, the CLI and seed files call, so that
 * the three agree. Changes go to the metadata store, where every instance finds them (within the token cache TTL for
 * limits, within a control poll for faults and the clock); this instance applies its own changes at once.
 */
import type { CacheInvalidation } from './cached-lookups.js';
import { type MovableClock, checkedAdvance } from './clock.js';
import { zohoError } from './errors.js';
import { type FaultRule, type FaultRuleInput, faultRule } from './faults.js';
import { type EffectiveLimits, type LimitInput, type OrgLimitSettings, creditBucket, effectiveLimits, hasAnyLimit, limitSettings } from './limits.js';
import type { LimitsLookup } from './limits-lookup.js';
import type { MetadataView } from './ports/metadata.js';
import { hashToken } from './tokens.js';

type LimitsAdminPorts = 'limits' | 'storage' | 'faults' | 'clock' | 'directory' | 'tokens';

export interface LimitsAdminDeps {
  store: MetadataView<LimitsAdminPorts>;
  lookup: LimitsLookup;
  /** This process's movable clock, when it runs with one. */
  clock: MovableClock | undefined;
  caches: CacheInvalidation;
  now: () => number;
  /** What this process keeps ahead (admissions.ts): counted as unspent and free in its reports. */
  ahead?: { unusedCredits(orgId: string): number; spareSlots(): Record<string, number> } | undefined;
}

/** Calls in flight of one user and client. */
export interface InFlight {
  userId: string;
  clientId: string | null;
  /** `all` (the concurrency limit) or `heavy` (the sub-concurrency limit). */
  kind: string;
  count: number;
}

export interface LimitReport {
  orgId: string;
  /** The org's own settings, if it has any. */
  settings: OrgLimitSettings | undefined;
  /** Where the effective limits come from. */
  source: 'org' | 'default' | 'none';
  effective: EffectiveLimits;
  creditsUsed: number;
  storageUsedBytes: number;
  inFlight: InFlight[];
}

export interface ClockStatus {
  /** Whether this process runs with the movable clock (CRM_MEDIA_TEST_CLOCK). */
  enabled: boolean;
  now: number;
  offsetMs: number;
}

export class LimitsAdmin {
  constructor(private readonly deps: LimitsAdminDeps) {}

  /** The same administration inside a transaction (seeding). */
  within(store: MetadataView<LimitsAdminPorts>): LimitsAdmin {
    return new LimitsAdmin({ ...this.deps, store });
  }

  private get store(): MetadataView<LimitsAdminPorts> {
    return this.deps.store;
  }

  private async org(orgId: string): Promise<void> {
    if (!(await this.store.directory.getOrg(orgId))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'org', key: orgId });
  }

  /** Replaces the org's limits. */
  async setLimits(orgId: string, input: LimitInput): Promise<LimitReport> {
    await this.org(orgId);
    await this.store.limits.putSettings(limitSettings(orgId, input, this.deps.now()));
    this.deps.caches.invalidate();
    return this.report(orgId);
  }

  /** The org goes back to the server's default (no limits unless CRM_MEDIA_DEFAULT_LIMITS). */
  async clearLimits(orgId: string): Promise<void> {
    await this.org(orgId);
    await this.store.limits.deleteSettings(orgId);
    this.deps.caches.invalidate();
  }

  /** Gives back every credit the org spent (a fresh 24 hours). */
  async resetCredits(orgId: string): Promise<void> {
    await this.org(orgId);
    await this.store.limits.resetCredits(orgId);
    this.deps.caches.invalidate();
  }

  async report(orgId: string): Promise<LimitReport> {
    await this.org(orgId);
    const settings = await this.store.limits.getSettings(orgId);
    const defaults = this.deps.lookup.defaults;
    const effective = settings ? effectiveLimits(settings) : defaults;
    const source = settings ? 'org' : hasAnyLimit(defaults) ? 'default' : 'none';
    const slots = await this.store.limits.slotsInUse(`${orgId}|`);
    const spare = this.deps.ahead?.spareSlots() ?? {};
    const inFlight = Object.entries(slots)
      .map(([key, count]) => {
        const [, userId, clientId, kind] = key.split('|') as [string, string, string, string];
        return { userId, clientId: clientId === '-' ? null : clientId, kind, count: count - (spare[key] ?? 0) };
      })
      .filter((f) => f.count > 0);
    return {
      orgId,
      settings,
      source,
      effective,
      creditsUsed: Math.max(0, (await this.store.limits.creditsUsed(orgId, creditBucket(this.deps.now()))) - (this.deps.ahead?.unusedCredits(orgId) ?? 0)),
      storageUsedBytes: await this.store.storage.used(orgId),
      inFlight,
    };
  }

  listFaults(): Promise<FaultRule[]> {
    return this.store.faults.list();
  }

  /** Adds a rule; the access token may be named by its value (kept as its id, never stored). */
  async addFault(input: FaultRuleInput, tokenValue?: string): Promise<FaultRule> {
    let tokenId = input.match?.tokenId;
    if (tokenValue !== undefined) {
      const found = await this.store.tokens.findPrincipal(hashToken(tokenValue));
      if (!found) throw zohoError('ADMIN_NOT_FOUND', { entity: 'access token', key: 'match.token' });
      tokenId = found.token.id;
    }
    const rule = faultRule({ ...input, match: { ...input.match, tokenId } }, this.deps.now());
    if (input.id !== undefined && (await this.store.faults.list()).some((r) => r.id === input.id)) {
      throw zohoError('DUPLICATE_DATA', { field: 'id', value: input.id });
    }
    await this.store.faults.insert(rule);
    this.deps.caches.invalidate();
    return rule;
  }

  async removeFault(id: string): Promise<void> {
    if (!(await this.store.faults.delete(id))) throw zohoError('ADMIN_NOT_FOUND', { entity: 'fault rule', key: id });
    this.deps.caches.invalidate();
  }

  async clearFaults(): Promise<number> {
    const n = await this.store.faults.deleteAll();
    this.deps.caches.invalidate();
    return n;
  }

  async clockStatus(): Promise<ClockStatus> {
    const clock = this.deps.clock;
    if (clock) {
      await clock.refresh();
      return { enabled: true, now: clock.now(), offsetMs: clock.offset };
    }
    const offsetMs = await this.store.clock.offset();
    return { enabled: false, now: Date.now() + offsetMs, offsetMs };
  }

  /**
   * Moves the shared clock ahead. A process without the movable clock (the CLI) moves the stored offset that the
   * servers started with one read.
   */
  async advanceClock(ms: number): Promise<ClockStatus> {
    if (this.deps.clock) await this.deps.clock.advance(ms);
    else await this.store.clock.advance(checkedAdvance(ms));
    this.deps.caches.invalidate();
    return this.clockStatus();
  }

  async resetClock(): Promise<ClockStatus> {
    if (this.deps.clock) await this.deps.clock.reset();
    else await this.store.clock.reset();
    this.deps.caches.invalidate();
    return this.clockStatus();
  }
}
