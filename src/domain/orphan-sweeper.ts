/**
 * Removes blobs that no row references: bytes of uploads that failed after writing, of replaced or deleted media
 * whose removal failed, of a crash between writing bytes and committing the row. Only blobs older than the grace
 * period are considered, so an upload whose row is about to be committed is never touched. Safe to run on several
 * instances at once (deletes are idempotent). A failure is logged and retried at the next run; it never stops the
 * server.
 */
import type { BlobListing, BlobStore } from './ports/blob-store.js';
import type { DomainLogger } from './ports/logger.js';
import type { MaintenanceStore } from './ports/maintenance.js';

export interface SweepResult {
  examined: number;
  removed: number;
  incompleteRemoved: number;
}

const BATCH = 500;

export class OrphanSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly maintenance: Pick<MaintenanceStore, 'referencedBlobKeys'>,
    private readonly blobs: BlobStore,
    private readonly opts: {
      graceMs: number;
      /**
       * How long a write can still be under way (the request timeout). An S3 multipart upload is dated by its start,
       * so one younger than this may still be receiving bytes and is never aborted.
       */
      writeWindowMs: number;
      now: () => number;
      log: DomainLogger;
      /** Unreferenced bytes that must stay for now (retired files held for nginx: BlobJanitor.isHeld). */
      keep?: (key: string) => boolean;
    },
  ) {}

  /** One full pass; concurrent calls share the pass in progress. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<SweepResult> {
    const cutoff = this.opts.now() - this.opts.graceMs;
    const result: SweepResult = { examined: 0, removed: 0, incompleteRemoved: 0 };
    let batch: BlobListing[] = [];
    const flush = async () => {
      const referenced = await this.maintenance.referencedBlobKeys(batch.map((b) => b.key));
      for (const b of batch) {
        if (referenced.has(b.key) || this.opts.keep?.(b.key)) continue;
        await this.blobs.delete(b.key);
        result.removed++;
      }
      batch = [];
    };
    for await (const blob of this.blobs.list()) {
      result.examined++;
      if (blob.modifiedAt >= cutoff) continue;
      batch.push(blob);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    const unfinishedCutoff = this.opts.now() - Math.max(this.opts.graceMs, this.opts.writeWindowMs);
    result.incompleteRemoved = await this.blobs.discardIncompleteWrites(unfinishedCutoff);
    if (result.removed > 0 || result.incompleteRemoved > 0) this.opts.log.info({ ...result }, 'orphan sweep');
    return result;
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.opts.log.error({ err }, 'orphan sweep failed; will retry'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }
}
