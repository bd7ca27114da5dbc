import type { BlobStore } from '../storage/blobs/store.js';
import type { DomainLogger } from './logger.js';

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
 * Removes unreferenced bytes after the response instead of before it: a replaced photo's old file, a rejected
 * upload's staged file. Nothing depends on their removal being done (no row points at them), so a request should
 * not wait for it. `settled()` waits for the removals under way (shutdown, sweeps, tests).
 */
export class BlobJanitor {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: DomainLogger,
  ) {}

  discard(key: string): void {
    const removal: Promise<void> = removeBlobQuietly(this.blobs, key, this.log).finally(() => this.pending.delete(removal));
    this.pending.add(removal);
  }

  async settled(): Promise<void> {
    // Bounded: each pass waits for the removals it saw; new ones only come from requests, which stop eventually.
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
