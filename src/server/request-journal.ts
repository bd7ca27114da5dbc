/**
 * One record per request to the Zoho surface (`/crm`, `/oauth`): what was asked, by whom, what came of it, and any
 * limit or fault that touched it. The same record feeds the request journal (a bounded, per-instance ring that tests
 * query and count, WireMock-style), the access log line and nothing else: one place decides what a request looked
 * like. Never a token, secret or code: the Authorization header is not read here, and query values are kept only for
 * parameters known to carry none.
 */
import { randomBytes } from 'node:crypto';

export interface RequestEntry {
  /** Sequence number within this instance's journal (increasing, never reused). */
  seq: number;
  /** The request id, also sent back as `X-Request-Id`. */
  id: string;
  /** Epoch ms when the request arrived. */
  time: number;
  method: string;
  path: string;
  /** The query string with every value but those of known-harmless parameters replaced by `REDACTED`. */
  query: string;
  /** The API operation (`photo.upload`, `token`, …), or the endpoint group. */
  operation: string;
  orgId: string | null;
  userId: string | null;
  /** The OAuth client behind the access token (or named on the token endpoint), if any. */
  clientId: string | null;
  /** The record the path names, if any. */
  recordId: string | null;
  status: number;
  /** The Zoho error code of an error answer (or the token endpoint's `error`), else null. */
  code: string | null;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
  /** Limits and faults that touched the request, e.g. `limit:credits`, `fault:delay(250ms)`. */
  marks: string[];
}

/** Query parameters whose values are safe to keep in logs and the journal. */
const HARMLESS_PARAMS = new Set([
  'fields',
  'ids',
  'page',
  'per_page',
  'restrict_triggers',
  'type',
  'module',
  'grant_type',
  'scope',
  'soid',
  'client_id',
  'sort_by',
  'sort_order',
  'status',
  'limit',
  'offset',
]);

/** The query string of `url` with the values of all but harmless parameters redacted; '' when there is none. */
export function redactedQuery(url: string): string {
  const q = url.indexOf('?');
  if (q === -1 || q === url.length - 1) return '';
  const out: string[] = [];
  for (const pair of url.slice(q + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    if (eq === -1) out.push(rawName);
    else out.push(`${rawName}=${HARMLESS_PARAMS.has(name) ? pair.slice(eq + 1) : 'REDACTED'}`);
  }
  return out.join('&');
}

/** A request id: 16 hex characters from a per-process random prefix and a counter (no syscall per request). */
export function requestIdGenerator(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}${(n++ >>> 0).toString(16).padStart(8, '0')}`;
}

/** What a route learns of a request while serving it, for its journal entry. */
export interface JournalFacts {
  orgId: string | null;
  userId: string | null;
  clientId: string | null;
  recordId: string | null;
  /** The Zoho error code (or token endpoint `error`) the request was answered with. */
  code: string | null;
  marks: string[];
}

export function journalFacts(): JournalFacts {
  return { orgId: null, userId: null, clientId: null, recordId: null, code: null, marks: [] };
}

export interface JournalFilter {
  operation?: string | undefined;
  method?: string | undefined;
  status?: number | undefined;
  code?: string | undefined;
  orgId?: string | undefined;
  userId?: string | undefined;
  clientId?: string | undefined;
  recordId?: string | undefined;
  /** Entries at or after this epoch ms. */
  since?: number | undefined;
  /** Entries with a sequence number above this one. */
  afterSeq?: number | undefined;
}

export function matches(e: RequestEntry, f: JournalFilter): boolean {
  return (
    (f.operation === undefined || e.operation === f.operation) &&
    (f.method === undefined || e.method === f.method) &&
    (f.status === undefined || e.status === f.status) &&
    (f.code === undefined || e.code === f.code) &&
    (f.orgId === undefined || e.orgId === f.orgId) &&
    (f.userId === undefined || e.userId === f.userId) &&
    (f.clientId === undefined || e.clientId === f.clientId) &&
    (f.recordId === undefined || e.recordId === f.recordId) &&
    (f.since === undefined || e.time >= f.since) &&
    (f.afterSeq === undefined || e.seq > f.afterSeq)
  );
}

interface Waiter {
  filter: JournalFilter;
  count: number;
  resolve(n: number): void;
}

/**
 * The journal: the newest `capacity` entries of this instance, oldest dropped first. Counting and waiting look at the
 * entries still held; a wait is woken by each new entry that matches its filter.
 */
export class RequestJournal {
  private readonly ring: (RequestEntry | undefined)[];
  private next = 0;
  private seq = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(readonly capacity: number) {
    this.ring = new Array<RequestEntry | undefined>(Math.max(0, capacity));
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  add(entry: RequestEntry): void {
    if (this.capacity === 0) return;
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    for (const w of this.waiters) {
      if (!matches(entry, w.filter)) continue;
      const n = this.count(w.filter);
      if (n >= w.count) {
        this.waiters.delete(w);
        w.resolve(n);
      }
    }
  }

  /** Oldest first. */
  private *entries(): Iterable<RequestEntry> {
    for (let i = 0; i < this.capacity; i++) {
      const e = this.ring[(this.next + i) % this.capacity];
      if (e) yield e;
    }
  }

  /** The newest `limit` matching entries, newest first. */
  list(filter: JournalFilter, limit = 100): RequestEntry[] {
    const found: RequestEntry[] = [];
    for (let i = 1; i <= this.capacity && found.length < limit; i++) {
      const e = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (!e) break;
      if (matches(e, filter)) found.push(e);
    }
    return found;
  }

  count(filter: JournalFilter): number {
    let n = 0;
    for (const e of this.entries()) if (matches(e, filter)) n++;
    return n;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.next = 0;
  }

  /**
   * Resolves with the number of matching entries once there are at least `count` of them, or with the number there
   * are when `timeoutMs` passes (the caller compares).
   */
  waitFor(filter: JournalFilter, count: number, timeoutMs: number): Promise<number> {
    const now = this.count(filter);
    if (now >= count || this.capacity === 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        filter,
        count,
        resolve: (n) => {
          clearTimeout(timer);
          resolve(n);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(this.count(filter));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Wakes every wait with what it has (shutdown). */
  close(): void {
    for (const w of this.waiters) w.resolve(this.count(w.filter));
    this.waiters.clear();
  }
}
