/**
 * What every request needs besides its token: the org's setting for the module it names (custom module or
 * sharing), and for every change the workflow rules it triggers. Read on every request, changed almost never, so
 * cached for the same bounded time as tokens (a change made through this process is seen at once, one made elsewhere
 * within that time); records are never cached (a delete through another instance is seen at once).
 */
import type { AccessLookups } from './access.js';
import type { CrmRecord, ModuleSetting, Photo, WorkflowEvent, WorkflowRule } from './entities.js';
import type { MetadataPorts } from './ports/metadata.js';
import type { WorkflowRuleStore } from './ports/workflows.js';
import { TtlCache } from './ttl-cache.js';

export class CachedAccessLookups implements AccessLookups {
  // null caches "no setting": the common case for standard modules.
  private readonly settings: TtlCache<string, ModuleSetting | null>;
  private readonly rules: TtlCache<string, WorkflowRule[]>;

  constructor(
    private readonly store: Pick<MetadataPorts, 'directory' | 'records'>,
    opts: { ttlMs: number; maxEntries: number; now: () => number },
  ) {
    this.settings = new TtlCache(opts.ttlMs, opts.maxEntries, opts.now);
    this.rules = new TtlCache(opts.ttlMs, opts.maxEntries, opts.now);
  }

  async getModuleSetting(orgId: string, apiName: string): Promise<ModuleSetting | undefined> {
    const key = `${orgId}\u0000${apiName.toLowerCase()}`;
    const hit = this.settings.get(key);
    if (hit !== undefined) return hit ?? undefined;
    return (await this.settings.load(key, async () => (await this.store.directory.getModuleSetting(orgId, apiName)) ?? null)) ?? undefined;
  }

  getRecord(orgId: string, id: string): Promise<CrmRecord | undefined> {
    return this.store.records.get(orgId, id);
  }

  getRecordWithPhoto(orgId: string, id: string): Promise<{ record: CrmRecord; photo: Photo | undefined } | undefined> {
    return this.store.records.getWithPhoto(orgId, id);
  }

  /** The active rules a change of `event` in `module` triggers; on a miss read through `source`. */
  async activeRules(source: WorkflowRuleStore, orgId: string, module: string, event: WorkflowEvent): Promise<WorkflowRule[]> {
    const key = `${orgId}\u0000${module}\u0000${event}`;
    const hit = this.rules.get(key);
    if (hit !== undefined) return hit;
    return this.rules.load(key, () => source.activeFor(orgId, module, event));
  }

  invalidate(): void {
    this.settings.clear();
    this.rules.clear();
  }
}

/** Forgets what this process cached (after a change made through it: revocation, sharing, reset). */
export interface CacheInvalidation {
  invalidate(): void;
}
