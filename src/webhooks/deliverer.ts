/**
 * Delivers outbox events to their rules' webhooks: POST of the JSON payload, signed with HMAC-SHA256 when the rule
 * has a secret, retried with exponential backoff up to a limit, every attempt recorded. Several instances may run
 * it at once: an instance holds the events it claimed (a lease longer than any attempt), so no event is sent twice
 * while its holder lives; if an instance dies mid-attempt, the event is retried after the lease, and receivers can
 * recognise the repeat by the `X-CRM-Media-Delivery` header (the event id).
 */
import { createHmac } from 'node:crypto';
import type { OutboxEvent, WorkflowRule } from '../domain/entities.js';
import { newZohoId } from '../domain/ids.js';
import type { DomainLogger } from '../domain/ports/logger.js';
import type { MetadataPorts } from '../domain/ports/metadata.js';
import { redactSecrets } from '../logging/redact.js';

export interface DeliveryOptions {
  pollMs: number;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  batch: number;
  now: () => number;
  log: DomainLogger;
}

export const SIGNATURE_HEADER = 'x-crm-media-signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp in the MAC stops replays of old bodies. */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';

export class WebhookDeliverer {
  /** Attempts this instance made since it started, by outcome (read by the metrics): which instances deliver. */
  readonly outcomes: Record<AttemptOutcome, number> = { delivered: 0, retry: 0, failed: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly store: Pick<MetadataPorts, 'outbox' | 'workflows'>,
    private readonly opts: DeliveryOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Something was queued in this process: deliver now rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => 0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    let delivered = 0;
    try {
      delivered = await this.runOnce();
    } catch (err) {
      this.opts.log.error({ err }, 'webhook delivery pass failed; will retry');
    }
    const more = this.again || delivered >= this.opts.batch;
    this.again = false;
    this.schedule(more ? 0 : this.opts.pollMs);
  }

  /** One pass: claim due events and attempt each once. Returns how many were attempted. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    const now = this.opts.now();
    // The lease outlives any attempt (timeout) by a margin, so a live holder never loses its claim mid-attempt.
    const events = await this.store.outbox.claimDue(now, now + this.opts.timeoutMs + 30_000, this.opts.batch);
    // One lookup per rule, not per event: a batch is usually many events of few rules.
    const rules = new Map<string, Promise<WorkflowRule | undefined>>();
    const ruleOf = (e: OutboxEvent) => {
      const key = `${e.orgId}/${e.ruleId}`;
      let rule = rules.get(key);
      if (!rule) rules.set(key, (rule = this.store.workflows.get(e.orgId, e.ruleId)));
      return rule;
    };
    await Promise.all(events.map(async (e) => this.attempt(e, await ruleOf(e))));
    return events.length;
  }

  private async attempt(event: OutboxEvent, rule: WorkflowRule | undefined): Promise<void> {
    const attempt = event.attempts + 1;
    const startedAt = this.opts.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    if (!rule) {
      error = 'the workflow rule was deleted';
    } else {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'crm-media-server webhook',
        'x-crm-media-event': event.event,
        'x-crm-media-delivery': event.id,
        'x-crm-media-attempt': String(attempt),
      };
      if (rule.secret) headers[SIGNATURE_HEADER] = signature(rule.secret, event.payload, Math.floor(startedAt / 1000));
      try {
        const res = await fetch(rule.webhookUrl, {
          method: 'POST',
          headers,
          body: event.payload,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        statusCode = res.status;
        await res.body?.cancel().catch(() => {});
        if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
      } catch (err) {
        // Stored, shown by the admin API and logged: a URL in the message (fetch names it) loses its credentials.
        error = (err as Error).name === 'TimeoutError' ? `timed out after ${this.opts.timeoutMs} ms` : redactSecrets(describeFetchError(err));
      }
    }
    const finishedAt = this.opts.now();
    await this.store.outbox.insertAttempt({
      id: newZohoId(),
      eventId: event.id,
      attempt,
      startedAt,
      durationMs: finishedAt - startedAt,
      statusCode,
      error,
    });
    if (error === null) {
      this.outcomes.delivered++;
      await this.store.outbox.update(event.id, {
        status: 'delivered',
        attempts: attempt,
        nextAttemptAt: event.nextAttemptAt,
        lastError: null,
        deliveredAt: finishedAt,
      });
      return;
    }
    const giveUp = !rule || attempt >= this.opts.maxAttempts;
    this.outcomes[giveUp ? 'failed' : 'retry']++;
    await this.store.outbox.update(event.id, {
      status: giveUp ? 'failed' : 'pending',
      attempts: attempt,
      nextAttemptAt: giveUp ? event.nextAttemptAt : finishedAt + this.backoff(attempt),
      lastError: error,
      deliveredAt: null,
    });
    if (giveUp) this.opts.log.warn({ eventId: event.id, attempts: attempt, error }, 'webhook delivery failed for good');
  }

  /** Exponential: base, 2×base, 4×base, … capped; ±10 % jitter so retries from many events spread out. */
  private backoff(attempt: number): number {
    const exp = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempt - 1));
    return Math.round(exp * (0.9 + Math.random() * 0.2));
  }
}

/** fetch says only "fetch failed"; the reason (connection refused, host not found, …) is in its cause. */
function describeFetchError(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (!cause) return message;
  const detail = typeof cause.code === 'string' ? cause.code : String(cause.message ?? '');
  return detail ? `${message}: ${detail}` : message;
}
