/**
 * A byte range of an open file as a Readable that, when piped, reads into pooled buffers and gives each back once the
 * destination has written it.
 *
 * fs read streams allocate a new buffer for every read, and pipe() cannot do better: it writes without a callback,
 * so nothing tells it when the socket is done with a buffer. Fastify sends a stream by calling `pipe(response)`, so
 * pipe() is where reuse has to happen: piped into an HTTP response it writes with callbacks, and a callback without
 * an error is the moment a buffer is free again (the response's socket has written the bytes). Only an HTTP
 * response: any other Writable's callback can come while the chunk is still referenced (a Transform calls back
 * once it has passed the very same buffer on to a reader that has not read it yet). Read any other way, or piped
 * anywhere else, the stream allocates a buffer per read, as fs streams do.
 *
 * The stream owns the file handle and closes it when it ends, fails or is destroyed (Fastify destroys it when the
 * client goes away). A file shorter than the range is an error, not a short body: the Content-Length was promised.
 */
import type { FileHandle } from 'node:fs/promises';
import { OutgoingMessage } from 'node:http';
import { Readable, type Writable } from 'node:stream';
import type { BufferPool } from './buffer-pool.js';

export class PooledFileReadStream extends Readable {
  private position: number;
  private piped = false;

  /** `last` is the last byte to send, inclusive (start − 1 for an empty range). */
  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly last: number,
    private readonly pool: BufferPool,
  ) {
    super({ highWaterMark: pool.size });
    this.position = start;
  }

  override _read(): void {
    if (this.position > this.last) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafeSlow(Math.min(this.pool.size, this.last - this.position + 1));
    this.readInto(buf).then(
      (length) => this.push(length === buf.length ? buf : buf.subarray(0, length)),
      (err: Error) => this.destroy(err),
    );
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    // Only a stream nobody has started reading, into a response; anything else keeps Readable's own pipe.
    const fresh = !this.piped && this.readableFlowing === null && this.readableLength === 0 && !this.destroyed;
    if (!fresh || !(destination instanceof OutgoingMessage)) {
      return super.pipe(destination, options);
    }
    this.piped = true;
    void this.pump(destination, options?.end !== false);
    return destination;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // FileHandle.close waits for reads still under way, so a read in flight cannot land in a closed descriptor.
    this.handle.close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }

  private async pump(destination: OutgoingMessage, endDestination: boolean): Promise<void> {
    // One read ahead: the next buffer fills while the socket sends the current one, as a read stream's buffer does.
    let next: Promise<Chunk> | undefined = this.position <= this.last ? this.readChunk() : undefined;
    try {
      while (next) {
        const { buf, length } = await next;
        next = undefined;
        if (this.destroyed) return;
        // The client went away: nothing more to send, and the file handle is closed now rather than by a watcher.
        if (destination.destroyed) return void this.destroy();
        if (this.position <= this.last) next = this.readChunk();
        const flowing = destination.write(length === buf.length ? buf : buf.subarray(0, length), (err) => {
          if (!err) this.pool.release(buf);
        });
        if (!flowing && next) await drained(destination);
      }
      if (endDestination) destination.end();
      // Ends the Readable side too, so whoever watches it (Fastify does) sees 'end' and then 'close'.
      this.push(null);
      this.resume();
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      // A read abandoned because the client left: its buffer is dropped, and its outcome no longer matters.
      next?.catch(() => {});
    }
  }

  private async readChunk(): Promise<Chunk> {
    const buf = this.pool.acquire();
    try {
      return { buf, length: await this.readInto(buf) };
    } catch (err) {
      this.pool.release(buf);
      throw err;
    }
  }

  /** Reads the next bytes of the range into `buf` (as many as fit) and moves on past them. */
  private async readInto(buf: Buffer): Promise<number> {
    const want = Math.min(buf.length, this.last - this.position + 1);
    const { bytesRead } = await this.handle.read(buf, 0, want, this.position);
    if (bytesRead === 0) throw shortFile();
    this.position += bytesRead;
    return bytesRead;
  }
}

interface Chunk {
  buf: Buffer;
  length: number;
}

/** Resolves when the destination wants more, or can take no more at all (the loop then sees it destroyed). */
function drained(destination: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      destination.off('drain', done);
      destination.off('close', done);
      destination.off('error', done);
      resolve();
    };
    destination.on('drain', done);
    destination.on('close', done);
    destination.on('error', done);
  });
}

function shortFile(): Error {
  return new Error('blob file is shorter than its recorded size');
}
