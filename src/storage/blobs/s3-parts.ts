/**
 * Where the bytes of an S3 upload wait until they make a whole part (or the whole of a small object): S3 needs each
 * request's length up front, so a part is collected before it is sent. Memory for parts comes from one budget
 * shared by every upload of the store; an upload that finds the budget spent collects its part in a temp file
 * instead of waiting. So an upload holds only the bytes its client has sent — a client that sends slowly or stalls
 * keeps nobody else waiting — and memory stays bounded whatever the number of uploads.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/** Bytes of part memory all uploads of one store may hold at once. */
export class MemoryBudget {
  private used = 0;
  constructor(readonly bytes: number) {}

  tryTake(n: number): boolean {
    if (this.used + n > this.bytes) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }

  get inUse(): number {
    return this.used;
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
}

/** What to send for a part: a buffer (the SDK may resend it itself) or a fresh stream per attempt. */
export type PartBody = { buffer: Buffer } | { stream: () => Readable };

/** The bytes of one part as they arrive: in budgeted memory, or in a temp file once the budget was spent. */
export class PartBuffer {
  private chunks: Buffer[] = [];
  private held = 0;
  private file: FileHandle | undefined;
  private unlinkLater: string | undefined;
  size = 0;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly spool: SpoolDir,
  ) {}

  get spilled(): boolean {
    return this.file !== undefined;
  }

  async append(chunk: Buffer): Promise<void> {
    if (!this.file) {
      if (this.budget.tryTake(chunk.length)) {
        this.chunks.push(chunk);
        this.held += chunk.length;
        this.size += chunk.length;
        return;
      }
      await this.spill();
    }
    await this.writeAt(this.file!, [chunk], this.size);
    this.size += chunk.length;
  }

  /** The part's bytes, for one request. */
  body(): PartBody {
    if (this.file) {
      const file = this.file;
      const end = this.size - 1;
      // autoClose off: the file stays open for the next part and for a resend.
      return { stream: () => file.createReadStream({ start: 0, end, autoClose: false, highWaterMark: 256 * 1024 }) };
    }
    if (this.chunks.length <= 1) return { buffer: this.chunks[0] ?? Buffer.alloc(0) };
    const chunks = this.chunks;
    return { stream: () => Readable.from(chunks, { objectMode: false }) };
  }

  /** Empties the buffer for the next part; a temp file is kept and overwritten from its start. */
  clear(): void {
    this.releaseMemory();
    this.size = 0;
  }

  async dispose(): Promise<void> {
    this.releaseMemory();
    this.size = 0;
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => {});
    if (this.unlinkLater) await unlink(this.unlinkLater).catch(() => {});
    this.unlinkLater = undefined;
  }

  private async spill(): Promise<void> {
    const { file, unlinkLater } = await this.spool.create();
    this.file = file;
    this.unlinkLater = unlinkLater;
    if (this.chunks.length > 0) await this.writeAt(file, this.chunks, 0);
    this.releaseMemory();
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

  private releaseMemory(): void {
    this.budget.give(this.held);
    this.held = 0;
    this.chunks = [];
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
