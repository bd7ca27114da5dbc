/**
 * A bounded map whose entries are trusted for `ttlMs`: what several instances can afford to cache between them.
 * The oldest entries go first when it is full; `clear()` is for changes made through this process.
 *
 * A value read from the store before a `clear()` may land after it (the read was slow, the change quick): `set()`
 * takes the `mark` read before the lookup and drops a value that predates a clear, or a revoked token would be
 * cached as valid again by a lookup that raced its revocation.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();
  private clears = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  /** The cached value, or undefined when absent or older than the TTL. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (this.now() - e.at >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Taken before reading a value from the store; given back to `set()`. */
  get mark(): number {
    return this.clears;
  }

  /** Caches `value` unless the cache was cleared since `mark` (when it was read). */
  set(key: K, value: V, mark: number): void {
    if (this.ttlMs <= 0 || mark !== this.clears) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, at: this.now() });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.clears++;
    this.entries.clear();
  }
}
