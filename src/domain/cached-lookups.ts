/**
 * What every request needs besides its token: the org's setting for the module it names (custom module or
 * sharing). Read on every request, changed almost never, so cached for the same bounded time as tokens; records
 * are never cached (a delete through another instance is seen at once).
 */
import type { AccessLookups } from './access.js';
import type { CrmRecord, ModuleSetting } from './entities.js';
import type { MetadataPorts } from './ports/metadata.js';
import { TtlCache } from './ttl-cache.js';

export class CachedAccessLookups implements AccessLookups {
  // null caches "no setting": the common case for standard modules.
  private readonly settings: TtlCache<string, ModuleSetting | null>;

  constructor(
    private readonly store: Pick<MetadataPorts, 'directory' | 'records'>,
    opts: { ttlMs: number; maxEntries: number; now: () => number },
  ) {
    this.settings = new TtlCache(opts.ttlMs, opts.maxEntries, opts.now);
  }

  async getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined> {
    const key = `${orgId}\u0000${apiName.toLowerCase()}`;
    const hit = this.settings.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const setting = await this.store.directory.getModuleSetting(orgId, apiName);
    this.settings.set(key, setting ?? null);
    return setting;
  }

  getRecord(orgId: string, id: string): Promise<CrmRecord | undefined> {
    return this.store.records.get(orgId, id);
  }

  invalidate(): void {
    this.settings.clear();
  }
}

/** Forgets what this process cached (after a change made through it: revocation, sharing, reset). */
export interface CacheInvalidation {
  invalidate(): void;
}
