/**
 * Where the bytes of an S3 upload wait until they make a whole part (or the whole of a small object): S3 needs each
 * request's length up front, so a part is collected before it is sent. Memory for parts comes from one pool of
 * slabs shared by every upload of the store; an upload that finds the pool spent collects its part in a temp file
 * instead of waiting. So an upload holds only the bytes its client has sent — a client that sends slowly or stalls
 * keeps nobody else waiting — and memory stays bounded whatever the number of uploads.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/**
 * The part memory of one store: fixed-size slabs, allocated on first need up to a total and then reused. Incoming
 * chunks are copied into slabs, so they die young, and a sent part's memory goes straight to the next upload
 * instead of waiting, as garbage, for a major GC. At most `keepFree` bytes of unused slabs are kept, so an idle
 * server does not hold the whole budget after a burst.
 */
export class SlabPool {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private out = 0;

  constructor(
    readonly totalBytes: number,
    readonly slabSize = 256 * 1024,
    readonly keepFree = 16 * 1024 * 1024,
  ) {}

  /** A slab, or undefined when the whole budget is in use. */
  take(): Buffer | undefined {
    let slab = this.free.pop();
    if (!slab) {
      if (this.allocated + this.slabSize > this.totalBytes) return undefined;
      slab = Buffer.allocUnsafeSlow(this.slabSize);
      this.allocated += this.slabSize;
    }
    this.out += this.slabSize;
    return slab;
  }

  give(slab: Buffer): void {
    this.out -= this.slabSize;
    if ((this.free.length + 1) * this.slabSize <= this.keepFree) this.free.push(slab);
    else this.allocated -= this.slabSize;
  }

  /** Bytes of slabs held by parts. */
  get inUse(): number {
    return this.out;
  }
}

/** The directory for spilled parts, made once per store on first use. */
export class SpoolDir {
  private made: Promise<string> | undefined;
  constructor(private readonly dir: string) {}

  /**
   * A new file open for reading and writing. It is unlinked at once where the OS allows it (a crash then leaves
   * nothing behind); elsewhere `unlinkLater` names it for removal when the part is disposed.
   */
  async create(): Promise<{ file: FileHandle; unlinkLater?: string }> {
    this.made ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => this.dir);
    const path = join(await this.made, `${randomBytes(12).toString('hex')}.part`);
    const file = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
      return { file };
    } catch {
      return { file, unlinkLater: path };
    }
  }

  /** Removes the directory once no part uses it (the store is closing); a directory still in use stays. */
  async remove(): Promise<void> {
    if (!this.made) return;
    this.made = undefined;
    await rmdir(this.dir).catch(() => {});
  }
}

/** What to send for a part: a buffer (the SDK may resend it itself) or a fresh stream per attempt. */
export type PartBody = { buffer: Buffer } | { stream: () => Readable };

/** The bytes of one part as they arrive: in slabs of the pool, or in a temp file once the pool had none to give. */
export class PartBuffer {
  private slabs: Buffer[] = [];
  /** Bytes used in the last slab (the others are full). */
  private fill = 0;
  private file: FileHandle | undefined;
  private unlinkLater: string | undefined;
  size = 0;

  constructor(
    private readonly pool: SlabPool,
    private readonly spool: SpoolDir,
  ) {}

  get spilled(): boolean {
    return this.file !== undefined;
  }

  async append(chunk: Buffer): Promise<void> {
    let at = 0;
    // Bounded: every round copies at least one byte, or moves the part to a file and leaves the loop.
    while (!this.file && at < chunk.length) {
      let last = this.slabs[this.slabs.length - 1];
      if (!last || this.fill === last.length) {
        const slab = this.pool.take();
        if (!slab) {
          await this.spill();
          break;
        }
        this.slabs.push(slab);
        this.fill = 0;
        last = slab;
      }
      const n = chunk.copy(last, this.fill, at);
      this.fill += n;
      at += n;
      this.size += n;
    }
    if (at < chunk.length) {
      const rest = at === 0 ? chunk : chunk.subarray(at);
      await this.writeAt(this.file!, [rest], this.size);
      this.size += rest.length;
    }
  }

  /** The part's bytes, for one request; valid until clear() or dispose(). */
  body(): PartBody {
    if (this.size === 0) return { buffer: Buffer.alloc(0) };
    if (this.file) {
      const file = this.file;
      const end = this.size - 1;
      // autoClose off: the file stays open for the next part and for a resend.
      return { stream: () => file.createReadStream({ start: 0, end, autoClose: false, highWaterMark: 64 * 1024 }) };
    }
    const views = this.views();
    if (views.length === 1) return { buffer: views[0]! };
    return { stream: () => Readable.from(views, { objectMode: false }) };
  }

  /** Empties the buffer for the next part (once its request is over); a temp file is kept and overwritten. */
  clear(): void {
    this.releaseSlabs();
    this.size = 0;
  }

  async dispose(): Promise<void> {
    this.releaseSlabs();
    this.size = 0;
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => {});
    if (this.unlinkLater) await unlink(this.unlinkLater).catch(() => {});
    this.unlinkLater = undefined;
  }

  private views(): Buffer[] {
    return this.slabs.map((s, i) => (i === this.slabs.length - 1 ? s.subarray(0, this.fill) : s));
  }

  private async spill(): Promise<void> {
    const { file, unlinkLater } = await this.spool.create();
    this.file = file;
    this.unlinkLater = unlinkLater;
    if (this.size > 0) await this.writeAt(file, this.views(), 0);
    this.releaseSlabs();
  }

  private async writeAt(file: FileHandle, chunks: Buffer[], position: number): Promise<void> {
    let written = 0;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    // writev may write less than asked; bounded: every round writes at least one byte or throws.
    while (written < total) {
      const { bytesWritten } = await file.writev(remaining(chunks, written), position + written);
      if (bytesWritten <= 0) throw new Error('spool file write made no progress');
      written += bytesWritten;
    }
  }

  private releaseSlabs(): void {
    for (const s of this.slabs) this.pool.give(s);
    this.slabs = [];
    this.fill = 0;
  }
}

/** `chunks` without their first `skip` bytes. */
function remaining(chunks: Buffer[], skip: number): Buffer[] {
  if (skip === 0) return chunks;
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}
