/**
 * Read buffers of one size, kept for reuse. Downloads read every byte they send into a buffer; a new buffer per read
 * is external memory that only a major GC gives back, and at a few hundred 1 MiB downloads a second V8 answers that
 * with back-to-back major GCs (docs/architecture.md, "Read buffers"). Reusing buffers avoids the garbage.
 *
 * A buffer may only come back once nothing reads it any more (for a download: once the socket has taken the bytes).
 * One that never comes back (a client that went away mid-write) is simply garbage, so the pool cannot leak; it keeps
 * at most `retain` idle buffers, so its memory stays bounded after a burst.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly retain: number,
  ) {}

  acquire(): Buffer {
    // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared 8 KiB pool that other code also uses.
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  release(buf: Buffer): void {
    if (buf.length === this.size && this.idle.length < this.retain) this.idle.push(buf);
  }

  /** Idle buffers held now (for tests and metrics). */
  get idleCount(): number {
    return this.idle.length;
  }
}
