import type { BlobStore } from './ports/blob-store.js';
import { CommitOutcomeUnknownError } from './ports/metadata-errors.js';
import type { DomainLogger } from './ports/logger.js';

/**
 * Removes bytes no row points at any more. Its failure must not fail the request that already committed: the
 * orphan sweeper removes whatever is left behind.
 */
export async function removeBlobQuietly(blobs: BlobStore, key: string, log: DomainLogger): Promise<void> {
  try {
    await blobs.delete(key);
  } catch (err) {
    log.warn({ err, blobKey: key }, 'blob removal failed; the sweeper will retry');
  }
}

/**
 * Whether a staged upload's bytes may go after `err`: not when its commit may have been applied after all (then a
 * row may point at them; if none does, the sweeper removes them later).
 */
export function mayDiscardStaged(err: unknown): boolean {
  return !(err instanceof CommitOutcomeUnknownError);
}

/**
 * Removes unreferenced bytes after the response instead of before it: a replaced photo's old file, a rejected
 * upload's staged file. Nothing depends on their removal being done (no row points at them), so a request should
 * not wait for it. `settled()` waits for the removals under way (shutdown, sweeps, tests).
 */
export class BlobJanitor {
  private readonly pending = new Set<Promise<void>>();
  /**
   * Retired bytes kept for nginx, with the timer that removes them (none yet while their change becomes durable):
   * no row references them, yet nothing else may remove them.
   */
  private readonly held = new Map<string, NodeJS.Timeout | undefined>();
  private closed = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: DomainLogger,
    /** Resolves once every change committed so far survives a crash (MetadataStore.durable). */
    private readonly durable: () => Promise<void>,
    /**
     * How long retired bytes outlive their row: behind nginx with X-Accel-Redirect, a download authorized just
     * before the change (or an authorization nginx still reuses) names the old file and must still find it.
     */
    private readonly retireDelayMs = 0,
  ) {}

  /** Bytes no committed row ever pointed at (a staged upload that was refused). */
  discard(key: string): void {
    this.track(removeBlobQuietly(this.blobs, key, this.log));
  }

  /**
   * Bytes a row pointed at until a change that has just committed (a replaced or deleted photo or attachment).
   * They go only once that change is durable: removed earlier, a crash could bring back the old row without them.
   */
  retire(key: string): void {
    const notDurable = (err: unknown) => this.log.warn({ err, blobKey: key }, 'not durable yet; the sweeper will remove the blob');
    if (this.retireDelayMs === 0) {
      this.track(this.durable().then(() => removeBlobQuietly(this.blobs, key, this.log), notDurable));
      return;
    }
    // Held from now on, so that the orphan sweeper cannot take the file while the change becomes durable either.
    if (this.closed) return;
    this.held.set(key, undefined);
    this.track(
      this.durable().then(
        () => this.removeLater(key),
        (err: unknown) => {
          this.held.delete(key);
          notDurable(err);
        },
      ),
    );
  }

  /** Whether these bytes are retired but still kept for nginx (the orphan sweeper must leave them). */
  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  /**
   * For shutdown: the removals under way finish; bytes still held stay (nginx may still send them) and are left to
   * the orphan sweeper, once they are older than its grace period.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.held.values()) if (timer) clearTimeout(timer);
    this.held.clear();
    await this.settled();
  }

  /** Waits for the removals under way; not for held bytes, whose removal has not begun. */
  async settled(): Promise<void> {
    // Bounded: each pass waits for the removals it saw; new ones only come from requests, which stop eventually.
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private removeLater(key: string): void {
    if (!this.held.has(key)) return; // closed meanwhile: the file stays for the sweeper
    const timer = setTimeout(() => {
      this.held.delete(key);
      this.track(removeBlobQuietly(this.blobs, key, this.log));
    }, this.retireDelayMs);
    this.held.set(key, timer);
  }

  private track(work: Promise<void>): void {
    const removal: Promise<void> = work.finally(() => this.pending.delete(removal));
    this.pending.add(removal);
  }
}
