/**
 * The limits that apply to an org, read on every request and changed almost never: cached for the same bounded
 * time as tokens and module settings (`CRM_MEDIA_TOKEN_CACHE_TTL_MS`). A change made through this process applies
 * at once; one made by another instance or the CLI within that time. An org without settings of its own gets the
 * server-wide default (`CRM_MEDIA_DEFAULT_LIMITS`), if any.
 */
import { type EffectiveLimits, effectiveLimits } from './limits.js';
import type { MetadataPorts } from './ports/metadata.js';
import { TtlCache } from './ttl-cache.js';

export class LimitsLookup {
  private readonly cache: TtlCache<string, EffectiveLimits>;

  constructor(
    private readonly store: Pick<MetadataPorts, 'limits'>,
    /** What orgs without settings get; NO_LIMITS unless configured. */
    readonly defaults: EffectiveLimits,
    opts: { ttlMs: number; maxEntries: number; now: () => number },
  ) {
    this.cache = new TtlCache(opts.ttlMs, opts.maxEntries, opts.now);
  }

  /** The org's limits if they are cached (the fast path of every request), else undefined. */
  cached(orgId: string): EffectiveLimits | undefined {
    return this.cache.get(orgId);
  }

  async effective(orgId: string): Promise<EffectiveLimits> {
    const hit = this.cache.get(orgId);
    if (hit) return hit;
    return this.cache.load(orgId, async () => {
      const settings = await this.store.limits.getSettings(orgId);
      return settings ? effectiveLimits(settings) : this.defaults;
    });
  }

  invalidate(): void {
    this.cache.clear();
  }
}
