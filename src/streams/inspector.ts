/**
 * One pass-through stage that every uploaded byte crosses: it counts, optionally hashes, enforces the size limit
 * the moment it is exceeded (not after the body has been read), and lets a caller look at each chunk (the image
 * probe).
 * A single Transform instead of a chain of them keeps the per-chunk overhead of the upload path low.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface InspectorOptions {
  maxBytes: number;
  /** Compute the SHA-256 of the bytes (0.6 ms of CPU per MiB on the event loop; off unless asked for). */
  hash?: boolean;
  /** The error to fail with once more than `maxBytes` arrive. */
  tooLarge: () => Error;
  /** Sees every chunk in order; throwing fails the stream with that error. */
  onChunk?: (chunk: Buffer) => void;
  /** Runs at end of input; throwing fails the stream with that error. */
  onEnd?: () => void;
}

export class Inspector extends Transform {
  private readonly hash: Hash | undefined;
  private count = 0;
  private digest: string | null | undefined;

  constructor(private readonly opts: InspectorOptions) {
    super();
    this.hash = opts.hash ? createHash('sha256') : undefined;
  }

  get bytes(): number {
    return this.count;
  }

  /** Hex SHA-256 of everything that passed (null when hashing is off); available once the stream has ended. */
  get sha256(): string | null {
    if (this.digest === undefined) throw new Error('sha256 is known only at end of stream');
    return this.digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.opts.maxBytes) return done(this.opts.tooLarge());
    try {
      this.opts.onChunk?.(chunk);
    } catch (err) {
      return done(err as Error);
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.opts.onEnd?.();
    } catch (err) {
      return done(err as Error);
    }
    this.digest = this.hash ? this.hash.digest('hex') : null;
    done();
  }
}
