/**
 * Blobs on local disk: one file per blob version under `blobs/ab/<key>`. A write goes to `tmp/`, is fsynced,
 * renamed into place and the directory fsynced, so a file under `blobs/` is always complete and durable, and a
 * crash leaves at worst a temp file or an unreferenced blob for the sweeper.
 *
 * One level of 256 directories, all made (and made durable) at start: a new directory on the write path costs a
 * mkdir and fsyncs of its parents, which under concurrent uploads wait on the file system's journal. 256
 * directories keep a million blobs at about 4,000 entries each, which ext4 and xfs index without trouble.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferPool } from './buffer-pool.js';
import { PooledFileReadStream } from './pooled-file-stream.js';
import {
  type BlobListing,
  type BlobRange,
  type BlobReader,
  type BlobStore,
  type BlobWriteResult,
  type OpenOptions,
  isBlobKey,
} from '../../domain/ports/blob-store.js';

/** Blobs up to this size are read in one go when their size is known (most photos are small). */
const SMALL_BLOB = 64 * 1024;
/** Larger blobs are streamed in chunks of this size. */
const CHUNK = 256 * 1024;
/**
 * What the writes in progress may buffer between them. A write buffers up to 256 KiB (fewer, larger writes), and
 * less when many run at once, down to 64 KiB: up to 32 concurrent uploads write in 256 KiB pieces, 64 in 128 KiB.
 */
const WRITE_BUFFER_BUDGET = 8 * 1024 * 1024;
const WRITE_BUFFER_MAX = 256 * 1024;
const WRITE_BUFFER_MIN = 64 * 1024;

/** The write buffer for one more write when `active` are under way (a multiple of 64 KiB within the bounds). */
export function writeBufferSize(active: number): number {
  const share = Math.floor(WRITE_BUFFER_BUDGET / (active + 1) / WRITE_BUFFER_MIN) * WRITE_BUFFER_MIN;
  return Math.min(WRITE_BUFFER_MAX, Math.max(WRITE_BUFFER_MIN, share));
}

export class DiskBlobStore implements BlobStore {
  readonly kind = 'disk';
  private readonly blobRoot: string;
  private readonly tmpRoot: string;
  private readonly dirHandles = new Map<string, FileHandle>();
  // Idle buffers kept: 128 × 64 KiB + 64 × 256 KiB = 24 MiB at most, enough for 64 busy downloads of either kind.
  // One more byte than a small blob: reading one byte past the recorded size shows a file that is longer.
  private readonly smallBuffers = new BufferPool(SMALL_BLOB + 1, 128);
  private readonly chunkBuffers = new BufferPool(CHUNK, 64);
  private activeWrites = 0;

  constructor(root: string) {
    this.blobRoot = join(root, 'blobs');
    this.tmpRoot = join(root, 'tmp');
  }

  async init(): Promise<this> {
    await mkdir(this.tmpRoot, { recursive: true });
    let created = false;
    for (let i = 0; i < 256; i++) {
      if ((await mkdir(join(this.blobRoot, i.toString(16).padStart(2, '0')), { recursive: true })) !== undefined) created = true;
    }
    if (created) {
      await fsyncDir(this.blobRoot);
      await fsyncDir(join(this.blobRoot, '..'));
    }
    return this;
  }

  /** The blob's path below `blobs/` (what an nginx internal location maps, for X-Accel-Redirect). */
  relativePath(key: string): string {
    if (!isBlobKey(key)) throw new Error(`not a blob key: ${key}`);
    return `${key.slice(0, 2)}/${key}`;
  }

  pathOf(key: string): string {
    return join(this.blobRoot, this.relativePath(key));
  }

  async put(source: Readable): Promise<BlobWriteResult> {
    const key = randomBytes(16).toString('hex');
    const tmp = join(this.tmpRoot, `${key}.part`);
    // `flush` fsyncs the file before it is closed, and pipeline() resolves only after the close.
    const sink = createWriteStream(tmp, { flags: 'wx', mode: 0o640, flush: true, highWaterMark: writeBufferSize(this.activeWrites) });
    this.activeWrites++;
    try {
      await pipeline(source, sink);
    } catch (err) {
      // The file is opened asynchronously: if the source failed first, the open may still be under way. Unlinking
      // only after the sink has closed guarantees the temp file is not created after its removal.
      if (!sink.closed) {
        const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
        sink.destroy();
        await closed;
      }
      await unlink(tmp).catch(() => {});
      throw err;
    } finally {
      this.activeWrites--;
    }
    const dir = join(this.blobRoot, key.slice(0, 2));
    try {
      await rename(tmp, join(dir, key));
      await this.fsyncBlobDir(dir);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return { key, size: sink.bytesWritten };
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async open(key: string, range?: BlobRange, opts?: OpenOptions): Promise<BlobReader | undefined> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    // The size the metadata recorded is the file's (the bytes under a key never change), so a download costs no fstat.
    let size = opts?.expectedSize;
    if (!range && size !== undefined && size <= SMALL_BLOB) {
      // Small photos are most requests: one read into a buffer costs less than a stream.
      const buf = this.smallBuffers.acquire();
      try {
        const { bytesRead } = await handle.read(buf, 0, size + 1, 0);
        if (bytesRead === size) {
          await handle.close();
          return smallReader(buf.subarray(0, size), () => this.smallBuffers.release(buf));
        }
      } catch (err) {
        await handle.close().catch(() => {});
        throw err;
      }
      this.smallBuffers.release(buf);
      // The file is not the size recorded (it cannot change under one key; be safe anyway): stream what it holds.
      size = undefined;
    }
    try {
      size ??= (await handle.stat()).size;
      // The stream owns the handle from here: it closes it at the end, on error, and when a client disconnects. A
      // stream that knows its last byte stops there instead of paying one more read to find the end of the file.
      const stream = new PooledFileReadStream(handle, range?.start ?? 0, range?.end ?? size - 1, this.chunkBuffers);
      return { size, stream };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async *list(): AsyncIterable<BlobListing> {
    for (const a of await readdirOrEmpty(this.blobRoot)) {
      const dir = join(this.blobRoot, a);
      for (const name of await readdirOrEmpty(dir)) {
        if (!isBlobKey(name)) continue;
        try {
          const s = await stat(join(dir, name));
          yield { key: name, size: s.size, modifiedAt: s.mtimeMs };
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }

  async discardIncompleteWrites(before: number): Promise<number> {
    let removed = 0;
    for (const name of await readdirOrEmpty(this.tmpRoot)) {
      const p = join(this.tmpRoot, name);
      try {
        if ((await stat(p)).mtimeMs < before) {
          await unlink(p);
          removed++;
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return removed;
  }

  async check(): Promise<void> {
    await stat(this.blobRoot);
    await stat(this.tmpRoot);
  }

  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.close().catch(() => {})));
  }

  /** The rename into `dir` becomes durable; the 256 directory handles stay open (one fsync, not open+fsync+close). */
  private async fsyncBlobDir(dir: string): Promise<void> {
    let handle = this.dirHandles.get(dir);
    if (!handle) {
      handle = await open(dir, 'r');
      const raced = this.dirHandles.get(dir);
      if (raced) {
        await handle.close();
        handle = raced;
      } else {
        this.dirHandles.set(dir, handle);
      }
    }
    await handle.sync();
  }
}

/** A small blob read whole; `stream` is made only if someone asks for it (a download sends `bytes`). */
function smallReader(bytes: Buffer, release: () => void): BlobReader {
  let stream: Readable | undefined;
  return {
    size: bytes.length,
    bytes,
    get stream() {
      stream ??= Readable.from([bytes]);
      return stream;
    },
    release,
  };
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
