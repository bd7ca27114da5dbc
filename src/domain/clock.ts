/**
 * A clock tests can move. Off unless the server starts with `CRM_MEDIA_TEST_CLOCK=1`; then every service's `now`
 * (runtime.ts) is real time plus an offset kept in the metadata store, so that the admin API, the CLI and every
 * instance move the same clock: token and grant-code expiry, credit windows, page tokens and webhook retry
 * back-off can be tested without waiting. An instance rereads the offset every control poll (control-loop.ts) and
 * at once after moving it itself. Leases between instances keep counting real time (admissions.ts).
 */
import { zohoError } from './errors.js';
import type { ClockStore } from './ports/clock.js';

export class MovableClock {
  private offsetMs = 0;
  /** Counts the starts and ends of moves made through this process, so that a slower reread cannot undo one. */
  private moves = 0;

  constructor(
    private readonly store: ClockStore,
    private readonly real: () => number = Date.now,
  ) {}

  /** Real time plus the offset; a bound function, handed to services as their `now`. */
  readonly now = (): number => this.real() + this.offsetMs;

  get offset(): number {
    return this.offsetMs;
  }

  /** Rereads the shared offset; a read that a move made through this process overtook is dropped, not applied. */
  async refresh(): Promise<void> {
    const moves = this.moves;
    const offset = await this.store.offset();
    if (moves === this.moves) this.offsetMs = offset;
  }

  /** Moves the shared clock `ms` ahead (two advances, from anywhere, add up). */
  async advance(ms: number): Promise<void> {
    const by = checkedAdvance(ms);
    await this.moving(async () => {
      this.offsetMs = await this.store.advance(by);
    });
  }

  async reset(): Promise<void> {
    await this.moving(async () => {
      await this.store.reset();
      this.offsetMs = 0;
    });
  }

  /** Counted at both ends: a reread that overlaps any part of a move, before or after its write, is dropped. */
  private async moving(move: () => Promise<void>): Promise<void> {
    this.moves++;
    try {
      await move();
    } finally {
      this.moves++;
    }
  }
}

/** At most a year at once: enough for any expiry, and far from the ends of a millisecond epoch. */
const MAX_ADVANCE_MS = 366 * 24 * 3_600_000;

export function checkedAdvance(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > MAX_ADVANCE_MS) {
    throw zohoError('INVALID_DATA', { field: 'by', reason: 'a positive duration of at most 366 days' });
  }
  return ms;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `250ms`, `90s`, `15m`, `25h`, `2d`, combinations such as `1h30m`, or a bare number of milliseconds; undefined when
 * the text is none of these.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (s === '' || !/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
