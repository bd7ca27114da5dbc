/**
 * A file part's bytes as a Readable. While its buffer is full the parser keeps the request body's write callback
 * here, so the body waits for the reader (backpressure); reading, or the end of the stream, releases it.
 */
import { Readable } from 'node:stream';

export class FileStream extends Readable {
  /** The file had more bytes than the size limit; the rest were dropped. */
  truncated = false;
  private heldWrite: (() => void) | null = null;

  constructor(onEnd: () => void) {
    super({ autoDestroy: true, emitClose: true });
    this.once('end', () => {
      // A write held just before the stream ended must still go on, or the rest of the form is never read.
      this.releaseWrite();
      onEnd();
    });
  }

  holdWrite(callback: () => void): void {
    this.heldWrite = callback;
  }

  override _read(): void {
    this.releaseWrite();
  }

  private releaseWrite(): void {
    const callback = this.heldWrite;
    this.heldWrite = null;
    callback?.();
  }
}
