/**
 * The admin documents of limits and fault rules (snake_case JSON: admin API, seed files, CLI, configuration) as the
 * domain's inputs, and the domain's answers as JSON again.
 */
import type { ClockStatus, LimitReport } from '../domain/limits-admin.js';
import type { FaultRule, FaultRuleInput } from '../domain/faults.js';
import type { LimitInput } from '../domain/limits.js';
import type { FaultDocument, LimitsDocument } from './schemas.js';

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

export function limitReportJson(r: LimitReport) {
  const e = r.effective;
  const s = r.settings;
  return {
    org_id: r.orgId,
    source: r.source,
    settings: s
      ? {
          edition: s.edition,
          users: s.users,
          credits: s.credits,
          concurrency: s.concurrency,
          sub_concurrency: s.subConcurrency,
          storage_bytes: s.storageBytes,
          record_attachment_bytes: s.recordAttachmentBytes,
          token_limits: s.tokenLimits,
          updated_at: iso(s.updatedAt),
        }
      : null,
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

export function faultRuleJson(f: FaultRule) {
  const m = f.match;
  const a = f.action;
  const action =
    a.kind === 'delay'
      ? { delay_ms: a.minMs === a.maxMs ? a.minMs : [a.minMs, a.maxMs] }
      : a.kind === 'error'
        ? { error: a.error, ...(a.details ? { details: a.details } : {}) }
        : a.kind === 'token_error'
          ? { token_error: a.error }
          : a.kind === 'reset'
            ? { reset: a.when }
            : a.kind === 'truncate'
              ? { truncate_after_bytes: a.afterBytes }
              : { throttle_bytes_per_second: a.bytesPerSecond };
  return {
    id: f.id,
    match: { operation: m.operation, method: m.method, module: m.module, org: m.orgId, user: m.userId, token_id: m.tokenId, client: m.clientId },
    action,
    probability: f.probability,
    times_left: f.remaining,
    until: iso(f.until),
    fired: f.fired,
    created_at: iso(f.createdAt),
  };
}

export function clockJson(c: ClockStatus) {
  return { enabled: c.enabled, now: new Date(c.now).toISOString(), offset_ms: c.offsetMs };
}
