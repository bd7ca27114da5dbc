/** The offset of the movable clock (clock.ts) from real time, shared by every instance and the CLI. */
export interface ClockStore {
  /** Milliseconds the clock is ahead of real time (0 when never moved). */
  offset(): Promise<number>;
  /** Moves the clock `ms` further ahead, atomically (two advances add up); returns the new offset. */
  advance(ms: number): Promise<number>;
  /** Back to real time. */
  reset(): Promise<void>;
}
