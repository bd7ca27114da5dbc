/**
 * Blobs in the process's memory (`--in-memory`): nothing touches the disk, everything goes with the process — the
 * way Azurite's `--inMemoryPersistence` serves a test run. The bytes of all blobs, plus those of writes still
 * arriving, stay under a fixed cap: a write that would pass it fails as soon as the chunk that crosses it arrives,
 * with the catalog's STORAGE_SPACE_EXCEEDED, so an upload never buffers more than the cap allows.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  BlobStoreFullError,
  type BlobListing,
  type BlobRange,
  type BlobReader,
  type BlobStore,
  type BlobWriteResult,
  isBlobKey,
} from '../../domain/ports/blob-store.js';

interface StoredBlob {
  bytes: Buffer;
  modifiedAt: number;
}

export class MemoryBlobStore implements BlobStore {
  readonly kind = 'memory';
  private readonly blobs = new Map<string, StoredBlob>();
  /** Bytes held: stored blobs and the chunks of writes in progress. */
  private held = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held now (stored blobs and writes in progress). */
  get usedBytes(): number {
    return this.held;
  }

  async put(source: Readable): Promise<BlobWriteResult> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of source) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        if (this.held + bytes.length > this.maxBytes) {
          throw new BlobStoreFullError('memory', this.maxBytes);
        }
        this.held += bytes.length;
        size += bytes.length;
        chunks.push(bytes);
      }
    } catch (err) {
      this.held -= size;
      source.destroy();
      throw err;
    }
    const key = randomBytes(16).toString('hex');
    // One copy of its own: the chunks are often views into larger socket buffers, which they would keep alive.
    this.blobs.set(key, { bytes: Buffer.concat(chunks, size), modifiedAt: Date.now() });
    return { key, size };
  }

  async size(key: string): Promise<number | undefined> {
    return this.get(key)?.bytes.length;
  }

  async open(key: string, range?: BlobRange): Promise<BlobReader | undefined> {
    const blob = this.get(key);
    if (!blob) return undefined;
    const bytes = range ? blob.bytes.subarray(range.start, range.end + 1) : blob.bytes;
    return { size: blob.bytes.length, bytes, stream: Readable.from(bytes.length > 0 ? [bytes] : []) };
  }

  async delete(key: string): Promise<void> {
    const blob = this.get(key);
    if (!blob) return;
    this.blobs.delete(key);
    this.held -= blob.bytes.length;
  }

  async *list(): AsyncIterable<BlobListing> {
    // A copy: the sweeper deletes while it lists.
    for (const [key, blob] of [...this.blobs]) yield { key, size: blob.bytes.length, modifiedAt: blob.modifiedAt };
  }

  async discardIncompleteWrites(): Promise<number> {
    // An unfinished write holds its chunks only in its own `put`, which releases them when it fails.
    return 0;
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.blobs.clear();
    this.held = 0;
  }

  private get(key: string): StoredBlob | undefined {
    if (!isBlobKey(key)) throw new Error(`not a blob key: ${key}`);
    return this.blobs.get(key);
  }
}
