/**
 * Faults on demand: rules that make matching requests slow, fail with a catalog error, lose their connection, or
 * get their body cut short or trickled. A rule matches on what a request is (operation, method, module) and who
 * makes it (org, user, access token, OAuth client); it fires always, with a probability, for a number of matches, or
 * until a time. Rules live in the metadata store (set by the admin API, the CLI or a seed file) and every instance
 * keeps a copy it refreshes (FaultEngine); what a rule does to the bytes on the wire is the HTTP adapter's part.
 */
import { type ErrorName, zohoError } from './errors.js';
import { FAULT_OPERATIONS, RESET_POINTS, type ResetPoint, TOKEN_OPERATIONS, faultErrorNames } from './fault-vocabulary.js';
import type { FaultAction, FaultMatch, FaultRule } from './entities.js';
import { newZohoId } from './ids.js';
import type { DomainLogger } from './ports/logger.js';
import type { FaultStore } from './ports/faults.js';

export { FAULT_OPERATIONS, RESET_POINTS, type ResetPoint, TOKEN_OPERATIONS, faultErrorNames };
export type { FaultAction, FaultMatch, FaultRule };

export type FaultOutcome = Exclude<FaultAction, { kind: 'delay' }>;

/** A rule as given (admin API, CLI, seed file), before it is checked. */
export interface FaultRuleInput {
  id?: string | undefined;
  match?: {
    operation?: string | undefined;
    method?: string | undefined;
    module?: string | undefined;
    org?: string | undefined;
    user?: string | undefined;
    /** Already resolved from a token value by the caller. */
    tokenId?: string | undefined;
    client?: string | undefined;
  } | undefined;
  action: {
    delayMs?: number | readonly [number, number] | undefined;
    error?: string | undefined;
    details?: Record<string, unknown> | undefined;
    tokenError?: string | undefined;
    reset?: string | undefined;
    truncateAfterBytes?: number | undefined;
    throttleBytesPerSecond?: number | undefined;
  };
  probability?: number | undefined;
  times?: number | undefined;
  /** ISO-8601 time or epoch ms. */
  until?: string | number | undefined;
  /** When the rule was first added (a restored export keeps it: rules apply in the order they were added). */
  createdAt?: number | undefined;
}

const MAX_DELAY_MS = 10 * 60_000;

function invalid(field: string, reason: string): never {
  throw zohoError('INVALID_DATA', { field, reason });
}

function intIn(field: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) invalid(field, `an integer from ${min} to ${max}`);
  return v;
}

function actionFrom(a: FaultRuleInput['action']): FaultAction {
  const given = Object.entries(a).filter(([k, v]) => v !== undefined && k !== 'details').map(([k]) => k);
  if (given.length !== 1) {
    invalid('action', 'exactly one of delay_ms, error, token_error, reset, truncate_after_bytes, throttle_bytes_per_second');
  }
  if (a.delayMs !== undefined) {
    const [min, max] = typeof a.delayMs === 'number' ? [a.delayMs, a.delayMs] : a.delayMs;
    intIn('action.delay_ms', min, 0, MAX_DELAY_MS);
    intIn('action.delay_ms', max, min, MAX_DELAY_MS);
    return { kind: 'delay', minMs: min, maxMs: max };
  }
  if (a.error !== undefined) {
    if (!faultErrorNames().includes(a.error as ErrorName)) invalid('action.error', `one of the catalog's errors: ${faultErrorNames().join(', ')}`);
    return { kind: 'error', error: a.error as ErrorName, details: a.details ?? null };
  }
  if (a.tokenError !== undefined) {
    if (!/^[\x20-\x7e]{1,100}$/.test(a.tokenError)) invalid('action.token_error', 'printable text of at most 100 characters');
    return { kind: 'token_error', error: a.tokenError };
  }
  if (a.reset !== undefined) {
    if (!(RESET_POINTS as readonly string[]).includes(a.reset)) invalid('action.reset', RESET_POINTS.join(' or '));
    return { kind: 'reset', when: a.reset as ResetPoint };
  }
  if (a.truncateAfterBytes !== undefined) {
    return { kind: 'truncate', afterBytes: intIn('action.truncate_after_bytes', a.truncateAfterBytes, 0, Number.MAX_SAFE_INTEGER) };
  }
  return { kind: 'throttle', bytesPerSecond: intIn('action.throttle_bytes_per_second', a.throttleBytesPerSecond!, 1, 1024 * 1024 * 1024) };
}

function operationPattern(op: string | undefined): string | null {
  if (op === undefined || op === '*') return null;
  const family = op.endsWith('.*') ? op.slice(0, -2) : undefined;
  const known = family === undefined ? FAULT_OPERATIONS.includes(op) : FAULT_OPERATIONS.some((o) => o.startsWith(`${family}.`));
  if (!known) invalid('match.operation', `one of ${FAULT_OPERATIONS.join(', ')}, a family such as photo.*, or *`);
  return op;
}

function untilFrom(until: string | number | undefined): number | null {
  if (until === undefined) return null;
  const t = typeof until === 'number' ? until : Date.parse(until);
  if (!Number.isFinite(t)) invalid('until', 'an ISO-8601 time');
  return t;
}

/** A checked rule; throws INVALID_DATA naming the field at fault. */
export function faultRule(input: FaultRuleInput, now: number): FaultRule {
  const m = input.match ?? {};
  const action = actionFrom(input.action);
  const operation = operationPattern(m.operation);
  const tokenSide = operation !== null && (TOKEN_OPERATIONS as readonly string[]).includes(operation);
  if (action.kind === 'token_error' && !tokenSide) invalid('action.token_error', 'applies to the token operations only (match.operation token or token.revoke)');
  if (input.probability !== undefined && !(input.probability >= 0 && input.probability <= 1)) invalid('probability', 'from 0 to 1');
  if (input.id !== undefined && !/^[\w.-]{1,64}$/.test(input.id)) invalid('id', 'letters, digits, _ . - (at most 64)');
  return {
    id: input.id ?? newZohoId(),
    match: {
      operation,
      method: m.method === undefined ? null : m.method.toUpperCase(),
      module: m.module ?? null,
      orgId: m.org ?? null,
      userId: m.user ?? null,
      tokenId: m.tokenId ?? null,
      clientId: m.client ?? null,
    },
    action,
    probability: input.probability ?? null,
    remaining: input.times === undefined ? null : intIn('times', input.times, 1, Number.MAX_SAFE_INTEGER),
    until: untilFrom(input.until),
    fired: 0,
    createdAt: input.createdAt ?? now,
  };
}

/** What a request is and who makes it, as far as the adapter knows. */
export interface FaultTarget {
  operation: string;
  method: string;
  module?: string | undefined;
  orgId?: string | undefined;
  userId?: string | undefined;
  tokenId?: string | undefined;
  clientId?: string | undefined;
  /** The org and user when they are not known yet but can be looked up (the token endpoint's client). */
  owner?: (() => Promise<{ orgId: string; userId: string } | undefined>) | undefined;
}

export function operationMatches(pattern: string | null, operation: string): boolean {
  if (pattern === null) return true;
  return pattern.endsWith('.*') ? operation.startsWith(pattern.slice(0, -1)) : pattern === operation;
}

function sameIgnoringCase(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** Whether `m` matches; the org and user may come from `owner` (null when still unknown). */
export function faultMatches(m: FaultMatch, t: FaultTarget, owner: { orgId: string; userId: string } | undefined): boolean {
  const orgId = t.orgId ?? owner?.orgId;
  const userId = t.userId ?? owner?.userId;
  return (
    operationMatches(m.operation, t.operation) &&
    (m.method === null || m.method === t.method) &&
    (m.module === null || sameIgnoringCase(t.module, m.module)) &&
    (m.orgId === null || m.orgId === orgId) &&
    (m.userId === null || m.userId === userId) &&
    (m.tokenId === null || m.tokenId === t.tokenId) &&
    (m.clientId === null || m.clientId === t.clientId)
  );
}

/** How a rule's firing is written in the journal and the log: `fault:delay(250ms)`. */
export function faultMark(action: FaultAction, delayMs?: number): string {
  switch (action.kind) {
    case 'delay':
      return `fault:delay(${delayMs ?? action.minMs}ms)`;
    case 'error':
      return `fault:error(${action.error})`;
    case 'token_error':
      return `fault:token_error(${action.error})`;
    case 'reset':
      return `fault:reset(${action.when})`;
    case 'truncate':
      return `fault:truncate(${action.afterBytes}B)`;
    case 'throttle':
      return `fault:throttle(${action.bytesPerSecond}B/s)`;
  }
}

/** What the rules that fired on a request ask for: a total delay, then at most one outcome. */
export interface FaultPlan {
  delayMs: number;
  outcome: FaultOutcome | undefined;
  /** One mark per rule that fired, in order. */
  marks: string[];
  /** The ids of those rules. */
  ruleIds: string[];
}

export interface FaultEngineOptions {
  now: () => number;
  /** Uniform in [0, 1): the probability of firing, the delay within a range. */
  random?: () => number;
  log: DomainLogger;
}

/**
 * This instance's copy of the rules and the decision which of them fire on a request. The copy is refreshed by the
 * control loop (every `CRM_MEDIA_CONTROL_POLL_MS`) and at once after a change made through this instance; a rule
 * limited to a number of firings is counted in the store, so instances never fire it more often between them.
 */
export class FaultEngine {
  private rules: readonly FaultRule[] = [];
  private loading: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private readonly random: () => number;

  constructor(
    private readonly store: FaultStore,
    private readonly opts: FaultEngineOptions,
  ) {
    this.random = opts.random ?? Math.random;
  }

  /** Whether any rule is set: the fast path of every request when none is. */
  get active(): boolean {
    return this.rules.length > 0;
  }

  get snapshot(): readonly FaultRule[] {
    return this.rules;
  }

  /**
   * Reloads the rules from the store, with a load that starts after this call: a caller that has just changed the
   * rules must see its change, and a load already under way (the control poll's) may have read before it. Calls made
   * while a load runs share the one queued after it, so a burst costs at most two queries.
   */
  refresh(): Promise<void> {
    if (this.loading === undefined) return this.load();
    this.queued ??= this.loading
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.load();
      });
    return this.queued;
  }

  private load(): Promise<void> {
    const loading: Promise<void> = this.store
      .list()
      .then((rules) => {
        this.rules = rules;
      })
      .finally(() => {
        if (this.loading === loading) this.loading = undefined;
      });
    this.loading = loading;
    return loading;
  }

  /** The rules that fire on `target`, or undefined when none does. */
  async plan(target: FaultTarget): Promise<FaultPlan | undefined> {
    if (this.rules.length === 0) return undefined;
    const now = this.opts.now();
    let owner: { orgId: string; userId: string } | undefined;
    let ownerLooked = false;
    let plan: FaultPlan | undefined;
    for (const rule of this.rules) {
      const m = rule.match;
      if (!operationMatches(m.operation, target.operation)) continue;
      if ((m.orgId !== null || m.userId !== null) && target.orgId === undefined && target.owner && !ownerLooked) {
        ownerLooked = true;
        owner = await target.owner();
      }
      if (!faultMatches(m, target, owner)) continue;
      if (rule.until !== null && now >= rule.until) continue;
      if (rule.remaining !== null && rule.remaining <= 0) continue;
      if (rule.action.kind !== 'delay' && plan?.outcome) continue;
      if (rule.probability !== null && !(this.random() < rule.probability)) continue;
      if (!(await this.fire(rule))) continue;
      plan ??= { delayMs: 0, outcome: undefined, marks: [], ruleIds: [] };
      plan.ruleIds.push(rule.id);
      if (rule.action.kind === 'delay') {
        const { minMs, maxMs } = rule.action;
        const ms = minMs + Math.floor(this.random() * (maxMs - minMs + 1));
        plan.delayMs += ms;
        plan.marks.push(faultMark(rule.action, ms));
      } else {
        plan.outcome = rule.action;
        plan.marks.push(faultMark(rule.action));
      }
    }
    return plan;
  }

  private async fire(rule: FaultRule): Promise<boolean> {
    try {
      const fired = await this.store.fire(rule.id);
      // Until the next refresh, this copy must not offer a spent rule again.
      if (!fired || rule.remaining !== null) this.replace(rule, fired ? rule.remaining! - 1 : 0);
      return fired;
    } catch (err) {
      // A fault must never become a real failure: a rule that cannot be counted does not fire.
      this.opts.log.warn({ err, rule: rule.id }, 'fault rule could not be counted; not fired');
      return false;
    }
  }

  private replace(rule: FaultRule, remaining: number): void {
    this.rules = this.rules.map((r) => (r.id === rule.id ? { ...r, remaining } : r));
  }
}
