/**
 * A bounded map whose entries are trusted for `ttlMs`: what several instances can afford to cache between them.
 * The oldest entries go first when it is full; `clear()` is for changes made through this process.
 *
 * A value read from the store before a `clear()` may land after it (the read was slow, the change quick): `load()`
 * caches what its read returns only if no clear came meanwhile, or a revoked token would be cached as valid again
 * by a lookup that raced its revocation.
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

  /**
   * Reads `key`'s value with `read` (a miss: callers try `get` first, synchronously, on their hot path) and caches it
   * unless the cache was cleared while the read ran. A read that throws caches nothing.
   */
  async load(key: K, read: () => Promise<V>): Promise<V> {
    const clears = this.clears;
    const value = await read();
    if (clears === this.clears) this.set(key, value);
    return value;
  }

  private set(key: K, value: V): void {
    if (this.ttlMs <= 0) return;
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
