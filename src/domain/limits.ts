/**
 * Zoho's per-org limits as rules: the edition presets (docs/zoho-api.md §10: credits, concurrency and
 * sub-concurrency; §6: storage and the per-record attachment total; §7.4: the token endpoint's limits), what each
 * call costs, which calls are heavy, and how an org's settings (a preset, explicit figures, or both) resolve to the
 * limits that apply. Nothing here counts anything: counting is the stores' job (ports/limits.ts, ports/storage.ts).
 */
import { type ZohoError, zohoError } from './errors.js';
import { EDITIONS, type Edition, type OrgLimitSettings } from './entities.js';
import type { ApiOperation } from './operations.js';
import { CREDIT_BUCKET_MS, CREDIT_BUCKETS } from './ports/limits.js';

export { EDITIONS };
export type { Edition, OrgLimitSettings };

/** The limits that apply to an org; an absent figure is not enforced. */
export interface EffectiveLimits {
  credits?: number;
  concurrency?: number;
  subConcurrency?: number;
  storageBytes?: number;
  recordAttachmentBytes?: number;
  tokenLimits: boolean;
}

export const NO_LIMITS: EffectiveLimits = Object.freeze({ tokenLimits: false });

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

interface EditionPreset {
  creditsBase: number;
  creditsPerUser: number;
  /** Highest credit figure of the edition (add-ons included); undefined: none. */
  creditsCap: number | undefined;
  concurrency: number;
  storageBase: number;
  storagePerUser: number;
}

/**
 * Credits (§10, the v8 API-limits page and Kaizen #93; the caps of the v4 page and Kaizen #203), concurrency (§10,
 * Kaizen #203) and file storage (Zoho CRM help, "Storage space": 1 GB for Free; 1 GB + 512 MB per user licence for
 * Standard and Professional; 1 GB + 1 GB per user licence for Enterprise; Ultimate is not listed and gets
 * Enterprise's figure). "GB" and "MB" are read as GiB and MiB, as for the photo limits.
 */
const PRESETS: Record<Edition, EditionPreset> = {
  free: { creditsBase: 5_000, creditsPerUser: 0, creditsCap: 5_000, concurrency: 5, storageBase: GiB, storagePerUser: 0 },
  standard: { creditsBase: 50_000, creditsPerUser: 250, creditsCap: 100_000, concurrency: 10, storageBase: GiB, storagePerUser: 512 * MiB },
  professional: { creditsBase: 50_000, creditsPerUser: 500, creditsCap: 3_000_000, concurrency: 15, storageBase: GiB, storagePerUser: 512 * MiB },
  enterprise: { creditsBase: 50_000, creditsPerUser: 1_000, creditsCap: 5_000_000, concurrency: 20, storageBase: GiB, storagePerUser: GiB },
  ultimate: { creditsBase: 50_000, creditsPerUser: 2_000, creditsCap: undefined, concurrency: 25, storageBase: GiB, storagePerUser: GiB },
};

/** The sub-concurrency limit of resource-intensive calls, "typically 10" whatever the edition (§10). */
export const EDITION_SUB_CONCURRENCY = 10;
/** The CRM help's total size of one record's attachments (§6; older pages said 20 MB). */
export const EDITION_RECORD_ATTACHMENT_BYTES = 100 * MiB;

/** The limits of `edition` for `users` user licences. */
export function editionLimits(edition: Edition, users: number): Required<EffectiveLimits> {
  const p = PRESETS[edition];
  const n = Math.max(1, Math.floor(users));
  const credits = p.creditsBase + p.creditsPerUser * n;
  return {
    credits: p.creditsCap === undefined ? credits : Math.min(credits, p.creditsCap),
    concurrency: p.concurrency,
    subConcurrency: EDITION_SUB_CONCURRENCY,
    storageBytes: p.storageBase + p.storagePerUser * n,
    recordAttachmentBytes: EDITION_RECORD_ATTACHMENT_BYTES,
    tokenLimits: true,
  };
}

/** An edition's figures, with every explicit figure of the settings in place of the edition's. */
export function effectiveLimits(s: Omit<OrgLimitSettings, 'orgId' | 'updatedAt'> | undefined): EffectiveLimits {
  if (!s) return NO_LIMITS;
  const base: EffectiveLimits = s.edition ? editionLimits(s.edition, s.users ?? 1) : { tokenLimits: false };
  const out: EffectiveLimits = { ...base };
  if (s.credits !== null) out.credits = s.credits;
  if (s.concurrency !== null) out.concurrency = s.concurrency;
  if (s.subConcurrency !== null) out.subConcurrency = s.subConcurrency;
  if (s.storageBytes !== null) out.storageBytes = s.storageBytes;
  if (s.recordAttachmentBytes !== null) out.recordAttachmentBytes = s.recordAttachmentBytes;
  if (s.tokenLimits !== null) out.tokenLimits = s.tokenLimits;
  return out;
}

export function hasAnyLimit(l: EffectiveLimits): boolean {
  return (
    l.tokenLimits ||
    l.credits !== undefined ||
    l.concurrency !== undefined ||
    l.subConcurrency !== undefined ||
    l.storageBytes !== undefined ||
    l.recordAttachmentBytes !== undefined
  );
}

/**
 * Credits per call. Zoho: "most calls cost 1 credit" (Convert Lead 5); the photo and attachment calls are not
 * documented, so every call served here costs 1 (docs/compatibility.md, "Limits").
 */
export const CREDIT_COST: Record<ApiOperation, number> = {
  'photo.download': 1,
  'photo.upload': 1,
  'photo.delete': 1,
  'attachment.upload': 1,
  'attachment.delete': 1,
  'attachment.bulkDelete': 1,
  'attachment.list': 1,
  'attachment.download': 1,
  'record.insert': 1,
  'record.get': 1,
  'record.delete': 1,
  'users.get': 1,
  'org.get': 1,
  'settings.modules': 1,
  'settings.fields': 1,
};

/**
 * The calls the sub-concurrency limit applies to. Zoho names bulk calls, queries, lead conversion and mail; of the
 * calls served here, those that carry a file (uploads) and those that act on up to 100 records or attachments at
 * once (inserts, deletes by ids) are the resource-intensive ones.
 */
export const HEAVY_OPERATIONS: ReadonlySet<ApiOperation> = new Set<ApiOperation>([
  'photo.upload',
  'attachment.upload',
  'attachment.bulkDelete',
  'record.insert',
  'record.delete',
]);

export { CREDIT_BUCKET_MS, CREDIT_BUCKETS };

export function creditBucket(now: number): number {
  return Math.floor(now / CREDIT_BUCKET_MS);
}

/** `X-API-CREDITS-REMAINING` is sent once at least half of the day's credits are used (§10, §11). */
export function showsRemainingCredits(limit: number, remaining: number): boolean {
  return remaining * 2 <= limit;
}

/** The settings as given (admin API, CLI, seed file), checked. */
export interface LimitInput {
  edition?: Edition | undefined;
  users?: number | undefined;
  credits?: number | undefined;
  concurrency?: number | undefined;
  subConcurrency?: number | undefined;
  storageBytes?: number | undefined;
  recordAttachmentBytes?: number | undefined;
  tokenLimits?: boolean | undefined;
}

const MAX_FIGURE = Number.MAX_SAFE_INTEGER;

export function limitSettings(orgId: string, input: LimitInput, now: number): OrgLimitSettings {
  const figure = (field: string, v: number | undefined, min: number): number | null => {
    if (v === undefined) return null;
    if (!Number.isSafeInteger(v) || v < min || v > MAX_FIGURE) {
      throw zohoError('INVALID_DATA', { field, reason: `an integer of at least ${min}` });
    }
    return v;
  };
  if (input.edition !== undefined && !(EDITIONS as readonly string[]).includes(input.edition)) {
    throw zohoError('INVALID_DATA', { field: 'edition', allowed: EDITIONS });
  }
  if (input.users !== undefined && input.edition === undefined) {
    throw zohoError('INVALID_DATA', { field: 'users', reason: 'user licences count for an edition only' });
  }
  const settings: OrgLimitSettings = {
    orgId,
    edition: input.edition ?? null,
    users: figure('users', input.users, 1),
    credits: figure('credits', input.credits, 0),
    concurrency: figure('concurrency', input.concurrency, 1),
    subConcurrency: figure('sub_concurrency', input.subConcurrency, 1),
    storageBytes: figure('storage_bytes', input.storageBytes, 0),
    recordAttachmentBytes: figure('record_attachment_bytes', input.recordAttachmentBytes, 0),
    tokenLimits: input.tokenLimits ?? null,
    updatedAt: now,
  };
  if (!hasAnyLimit(effectiveLimits(settings))) {
    throw zohoError('INVALID_DATA', { reason: 'name an edition or at least one limit (credits, concurrency, storage_bytes, …)' });
  }
  return settings;
}

/** The journal mark of a refusal by a storage limit (the 429s are marked where they are decided, admissions.ts). */
export function limitMark(err: ZohoError): string | undefined {
  if (err.entry === 'STORAGE_SPACE_EXCEEDED') return 'limit:storage';
  if (err.entry === 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE' && err.details['limit'] === 'record_attachments') return 'limit:record-attachments';
  return undefined;
}
