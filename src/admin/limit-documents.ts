/**
 * The admin documents of limits and fault rules (snake_case JSON: admin API, seed files, CLI, configuration) as the
 * domain's inputs, and the domain's answers as JSON again.
 */
import type { z } from 'zod';
import type { ClockStatus, LimitReport } from '../domain/limits-admin.js';
import type { FaultAction, FaultMatch, FaultRule, FaultRuleInput } from '../domain/faults.js';
import type { LimitInput, OrgLimitSettings } from '../domain/limits.js';
import type { FaultDocument, LimitsDocument, seedFaultSchema } from './schemas.js';

export function limitInput(d: LimitsDocument): LimitInput {
  return {
    edition: d.edition,
    users: d.users,
    credits: d.credits,
    concurrency: d.concurrency,
    subConcurrency: d.sub_concurrency,
    storageBytes: d.storage_bytes,
    recordAttachmentBytes: d.record_attachment_bytes,
    tokenLimits: d.token_limits,
  };
}

/** The rule as the domain takes it, and the token value it names (resolved to the token's id, never stored). */
export function faultInput(d: FaultDocument): { input: FaultRuleInput; tokenValue: string | undefined } {
  const m = d.match;
  const a = d.action;
  return {
    input: {
      id: d.id,
      match: { operation: m.operation, method: m.method, module: m.module, org: m.org, user: m.user, tokenId: m.token_id, client: m.client },
      action: {
        delayMs: a.delay_ms,
        error: a.error,
        details: a.details,
        tokenError: a.token_error,
        reset: a.reset,
        truncateAfterBytes: a.truncate_after_bytes,
        throttleBytesPerSecond: a.throttle_bytes_per_second,
      },
      probability: d.probability,
      times: d.times,
      until: d.until,
    },
    tokenValue: m.token,
  };
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Every field of an org's own settings, null where it is not set. */
function settingsJson(s: OrgLimitSettings) {
  return {
    edition: s.edition,
    users: s.users,
    credits: s.credits,
    concurrency: s.concurrency,
    sub_concurrency: s.subConcurrency,
    storage_bytes: s.storageBytes,
    record_attachment_bytes: s.recordAttachmentBytes,
    token_limits: s.tokenLimits,
  };
}

type WithoutNulls<T> = { [K in keyof T]?: Exclude<T[K], null> };
const withoutNulls = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as WithoutNulls<T>;

/** An org's own settings as a seed document (the export) writes them: the fields that are set, as they were given. */
export function limitsDocument(s: OrgLimitSettings): LimitsDocument {
  return withoutNulls(settingsJson(s));
}

export function limitReportJson(r: LimitReport) {
  const e = r.effective;
  const s = r.settings;
  return {
    org_id: r.orgId,
    source: r.source,
    settings: s ? { ...settingsJson(s), updated_at: iso(s.updatedAt) } : null,
    effective: {
      credits: e.credits ?? null,
      concurrency: e.concurrency ?? null,
      sub_concurrency: e.subConcurrency ?? null,
      storage_bytes: e.storageBytes ?? null,
      record_attachment_bytes: e.recordAttachmentBytes ?? null,
      token_limits: e.tokenLimits,
    },
    usage: {
      credits_used: r.creditsUsed,
      credits_remaining: e.credits === undefined ? null : Math.max(0, e.credits - r.creditsUsed),
      storage_used_bytes: r.storageUsedBytes,
      storage_remaining_bytes: e.storageBytes === undefined ? null : Math.max(0, e.storageBytes - r.storageUsedBytes),
      in_flight: r.inFlight.map((f) => ({ user_id: f.userId, client_id: f.clientId, kind: f.kind, count: f.count })),
    },
  };
}

function matchJson(m: FaultMatch) {
  return { operation: m.operation, method: m.method, module: m.module, org: m.orgId, user: m.userId, token_id: m.tokenId, client: m.clientId };
}

function actionJson(a: FaultAction) {
  return a.kind === 'delay'
    ? { delay_ms: a.minMs === a.maxMs ? a.minMs : ([a.minMs, a.maxMs] as [number, number]) }
    : a.kind === 'error'
      ? { error: a.error, ...(a.details ? { details: a.details } : {}) }
      : a.kind === 'token_error'
        ? { token_error: a.error }
        : a.kind === 'reset'
          ? { reset: a.when }
          : a.kind === 'truncate'
            ? { truncate_after_bytes: a.afterBytes }
            : { throttle_bytes_per_second: a.bytesPerSecond };
}

export function faultRuleJson(f: FaultRule) {
  return {
    id: f.id,
    match: matchJson(f.match),
    action: actionJson(f.action),
    probability: f.probability,
    times_left: f.remaining,
    until: iso(f.until),
    fired: f.fired,
    created_at: iso(f.createdAt),
  };
}

/**
 * A rule as a seed document (the export) writes it, to be added again as it is now: the firings left become its
 * `times`, and the time it was added (which orders the rules) is kept. How often it fired is history and is left out.
 */
export function faultDocument(f: FaultRule): z.input<typeof seedFaultSchema> {
  return {
    id: f.id,
    match: withoutNulls(matchJson(f.match)),
    action: actionJson(f.action),
    ...withoutNulls({ probability: f.probability, times: f.remaining, until: iso(f.until) }),
    created_at: iso(f.createdAt)!,
  };
}

export function clockJson(c: ClockStatus) {
  return { enabled: c.enabled, now: new Date(c.now).toISOString(), offset_ms: c.offsetMs };
}
