/**
 * BlobStore: the bytes of photos and attachments. Every blob version has its own key, chosen by the store, and is
 * never overwritten; a replaced or deleted blob is removed by key. Implementations: local disk and S3.
 */
import type { Readable } from 'node:stream';

export interface BlobWriteResult {
  key: string;
  size: number;
}

export interface BlobRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface BlobReader {
  size: number;
  stream: Readable;
  /** The whole content, when the store read a small blob at once (then `stream` yields the same bytes). */
  bytes?: Buffer;
  /**
   * Present when `bytes` lives in a buffer the store reuses: call it once nothing reads `bytes` (or `stream`) any
   * more — for a download, when the response has finished — and never after that use them. Not calling it is safe.
   */
  release?: () => void;
}

export interface OpenOptions {
  /**
   * The size the metadata recorded: a store may take it as the blob's size instead of asking for it, and read a
   * small blob in one go instead of streaming it.
   */
  expectedSize?: number;
}

export interface BlobListing {
  key: string;
  size: number;
  modifiedAt: number;
}

export interface BlobStore {
  readonly kind: string;
  /**
   * Streams `source` into a new blob. Resolves only once the bytes are durable (so a metadata row may then point
   * at them); rejects with the source's error if the source fails, and then keeps nothing readable under a key.
   */
  put(source: Readable): Promise<BlobWriteResult>;
  /** The blob's size, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  /** Opens a blob, or a byte range of it, for streaming; undefined when it does not exist. */
  open(key: string, range?: BlobRange, opts?: OpenOptions): Promise<BlobReader | undefined>;
  /** Removes a blob; removing a missing blob is not an error. */
  delete(key: string): Promise<void>;
  /** Every stored blob, for the orphan sweeper. */
  list(): AsyncIterable<BlobListing>;
  /** Discards unfinished writes (temp files, incomplete multipart uploads) started before `before` (epoch ms). */
  discardIncompleteWrites(before: number): Promise<number>;
  /** Throws when the store cannot be reached (readiness). */
  check(): Promise<void>;
  close(): Promise<void>;
}

const KEY_PATTERN = /^[0-9a-f]{32}$/;

export function isBlobKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/**
 * A store with a fixed capacity (the in-memory one) has no room for the bytes being written. The domain answers it as
 * Zoho's storage-space error; other stores never throw it (a full disk or bucket is the operator's failure).
 */
export class BlobStoreFullError extends Error {
  constructor(
    readonly store: string,
    readonly limitBytes: number,
  ) {
    super(`the ${store} blob store is full (${limitBytes} bytes)`);
  }
}
