/**
 * Staging an upload's bytes: a file part streams through one Inspector (count, limit, hash, and whatever else looks at
 * each chunk) into a new blob, before any row points at it. If the request then fails, the staged bytes go again —
 * unless the failure was a COMMIT whose outcome is unknown, when a row may point at them after all (the orphan sweeper
 * removes them later if none does).
 */
import { Inspector, type InspectorOptions } from '../streams/inspector.js';
import { type BlobJanitor, mayDiscardStaged } from './blob-cleanup.js';
import { zohoError } from './errors.js';
import { type BlobStore, BlobStoreFullError } from './ports/blob-store.js';
import { type FilePart, clientBodyError } from './uploads.js';

export interface StagedBytes {
  blobKey: string;
  size: number;
  /** SHA-256 of the bytes when hashing was asked for, else null. */
  sha256: string | null;
}

/** A blob store with no room left is Zoho's storage-space error, whoever was writing (an upload, a seed). */
export function rethrowStoreFull(err: unknown): never {
  throw err instanceof BlobStoreFullError ? zohoError('MEMORY_STORE_FULL', { store: err.store, limit_bytes: err.limitBytes }) : err;
}

export class UploadStaging {
  private readonly keys: string[] = [];

  constructor(
    private readonly blobs: BlobStore,
    private readonly janitor: BlobJanitor,
  ) {}

  /** Streams the part's bytes into a new blob through an Inspector with `checks`; resolves once they are durable. */
  async stage(part: FilePart, checks: InspectorOptions): Promise<StagedBytes> {
    const inspector = new Inspector(checks);
    // A failing body is the client's doing: answered as a malformed request, never as the server's failure.
    part.stream.on('error', (err) => inspector.destroy(clientBodyError(err)));
    const written = await this.blobs.put(part.stream.pipe(inspector)).catch(rethrowStoreFull);
    this.keys.push(written.key);
    return { blobKey: written.key, size: written.size, sha256: inspector.sha256 };
  }

  /** After the request failed with `err`: removes what was staged, unless a row may point at it. */
  discardAfter(err: unknown): void {
    if (!mayDiscardStaged(err)) return;
    for (const key of this.keys.splice(0)) this.janitor.discard(key);
  }
}
