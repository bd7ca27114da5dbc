/**
 * The request journal and the waits, over the admin API:
 *   GET    /_admin/journal                     newest entries first, filtered
 *   GET    /_admin/journal/count               how many entries match (WireMock-style verification)
 *   GET    /_admin/journal/wait?count=N        returns once N entries match, or when the timeout passes
 *   DELETE /_admin/journal                     forget every entry
 *   GET    /_admin/workflow-deliveries/counts  pending / delivered / failed
 *   GET    /_admin/workflow-deliveries/wait    returns once nothing is pending, or when the timeout passes
 * Filters (query): operation, method, status, code, org, user, client, record, since (ISO time or epoch ms), after
 * (a sequence number). The journal is this instance's: behind a load balancer, ask each instance.
 */
import type { FastifyRequest } from 'fastify';
import { journalEntryJson } from '../../admin/views.js';
import { zohoError } from '../../domain/errors.js';
import type { Runtime } from '../../runtime.js';
import { waitForDeliveries } from '../../webhooks/settle.js';
import { queryParam } from '../http.js';
import type { JournalFilter, RequestJournal } from '../request-journal.js';
import type { AdminRoute } from './admin-router.js';

/** The longest a wait may be asked to last; a client wanting longer asks again. */
export const MAX_WAIT_MS = 120_000;
const DEFAULT_WAIT_MS = 10_000;

function invalidParam(name: string, reason: string): never {
  throw zohoError('INVALID_DATA', { param_name: name, reason });
}

function intParam(request: FastifyRequest, name: string, opts: { min: number; max: number }): number | undefined {
  const raw = queryParam(request.query, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < opts.min || n > opts.max) invalidParam(name, `an integer from ${opts.min} to ${opts.max}`);
  return n;
}

function timeParam(request: FastifyRequest, name: string): number | undefined {
  const raw = queryParam(request.query, name);
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(n)) invalidParam(name, 'an ISO 8601 time or epoch milliseconds');
  return n;
}

/** The journal filter a request's query names; unknown values are INVALID_DATA, not silently ignored. */
export function journalFilterOf(request: FastifyRequest): JournalFilter {
  const q = (name: string) => queryParam(request.query, name) || undefined;
  const method = q('method')?.toUpperCase();
  return {
    operation: q('operation'),
    method,
    status: intParam(request, 'status', { min: 100, max: 599 }),
    code: q('code'),
    orgId: q('org'),
    userId: q('user'),
    clientId: q('client'),
    recordId: q('record'),
    since: timeParam(request, 'since'),
    afterSeq: intParam(request, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER }),
  };
}

export function registerJournalRoutes(route: AdminRoute, rt: Runtime, journal: RequestJournal, stopping: AbortSignal): void {
  const timeoutOf = (request: FastifyRequest) => intParam(request, 'timeout_ms', { min: 0, max: MAX_WAIT_MS }) ?? DEFAULT_WAIT_MS;

  route('GET', '/journal', async (req) => {
    const limit = intParam(req, 'limit', { min: 1, max: Math.max(1, journal.capacity) }) ?? 100;
    const entries = journal.list(journalFilterOf(req), limit);
    return { capacity: journal.capacity, entries: entries.map(journalEntryJson) };
  });
  route('GET', '/journal/count', async (req) => ({ count: journal.count(journalFilterOf(req)) }));
  route('GET', '/journal/wait', async (req) => {
    const wanted = intParam(req, 'count', { min: 1, max: 1_000_000 });
    if (wanted === undefined) throw zohoError('REQUIRED_PARAM_MISSING', { param_name: 'count' });
    const filter = journalFilterOf(req);
    const timeoutMs = timeoutOf(req);
    if (journal.capacity === 0) return { count: 0, wanted, reached: false, reason: 'the journal is off (CRM_MEDIA_JOURNAL_SIZE=0)' };
    const count = await journal.waitFor(filter, wanted, stopping.aborted ? 0 : timeoutMs);
    return { count, wanted, reached: count >= wanted };
  });
  route('DELETE', '/journal', async () => {
    const cleared = journal.count({});
    journal.clear();
    return { cleared };
  });

  route('GET', '/workflow-deliveries/counts', async (req) => rt.workflows.deliveryCounts(queryParam(req.query, 'org') || undefined));
  route('GET', '/workflow-deliveries/wait', async (req) => {
    const result = await waitForDeliveries(rt.store.outbox, {
      orgId: queryParam(req.query, 'org') || undefined,
      timeoutMs: timeoutOf(req),
      kick: () => rt.webhooks.kick(),
      signal: stopping,
    });
    return { ...result.counts, settled: result.settled };
  });
}
