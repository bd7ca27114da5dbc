/**
 * Waiting for webhook deliveries to settle: resolves once no event is pending (every one delivered or failed for
 * good), or when the time is up. The outbox is shared by every instance on the database, so this asks the store,
 * and so sees deliveries made by other instances too; it nudges this instance's deliverer so that nothing waits for a
 * poll interval.
 */
import type { OutboxStatus } from '../domain/entities.js';
import type { OutboxStore } from '../domain/ports/workflows.js';

export interface SettleResult {
  counts: Record<OutboxStatus, number>;
  /** True when nothing is pending any more; false when the time ran out (or the server is stopping) first. */
  settled: boolean;
}

/** How often the store is asked while waiting: small against any webhook round trip, light on the database. */
const CHECK_EVERY_MS = 20;

export async function waitForDeliveries(
  outbox: Pick<OutboxStore, 'countByStatus'>,
  opts: { orgId?: string | undefined; timeoutMs: number; kick: () => void; signal?: AbortSignal | undefined },
): Promise<SettleResult> {
  const deadline = Date.now() + opts.timeoutMs;
  opts.kick();
  // Bounded by the deadline: every turn sleeps, and the loop ends once it has passed.
  for (;;) {
    const counts = await outbox.countByStatus(opts.orgId);
    if (counts.pending === 0) return { counts, settled: true };
    const left = deadline - Date.now();
    if (left <= 0 || opts.signal?.aborted) return { counts, settled: false };
    await pause(Math.min(CHECK_EVERY_MS, left), opts.signal);
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
