/**
 * What a running server rereads and renews on its own, every `CRM_MEDIA_CONTROL_POLL_MS` (default 1 s): the fault
 * rules and the movable clock's offset (set by the CLI or another instance: this bounds how stale they are), and the
 * concurrency lease (admissions.ts). Started by the server, not by CLI commands.
 */
import type { Admissions } from './admissions.js';
import type { MovableClock } from './clock.js';
import type { FaultEngine } from './faults.js';
import type { DomainLogger } from './ports/logger.js';

export interface ControlLoopDeps {
  faults: FaultEngine;
  clock: MovableClock | undefined;
  admissions: Admissions;
  pollMs: number;
  log: DomainLogger;
}

export class ControlLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly deps: ControlLoopDeps) {}

  start(): void {
    if (!this.stopped || this.deps.pollMs <= 0) return;
    this.stopped = false;
    this.schedule();
  }

  /** One pass now: everything it rereads and renews. */
  async pass(): Promise<void> {
    const { faults, clock, admissions, log } = this.deps;
    const results = await Promise.allSettled([faults.refresh(), clock?.refresh(), admissions.heartbeat()]);
    for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason as unknown }, 'control pass failed; retrying at the next poll');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.deps.pollMs);
    this.timer.unref();
  }
}
