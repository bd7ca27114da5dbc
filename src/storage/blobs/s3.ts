/**
 * Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, s3rver). Each blob version has its own key, so a
 * replacement never overwrites bytes a concurrent download is reading. Uploads stream through lib-storage: bodies
 * above one part become multipart uploads, and only one part per upload is held in memory; a global cap on
 * concurrent uploads bounds the total.
 */
import { randomBytes } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type BlobListing, type BlobRange, type BlobReader, type BlobStore, type BlobWriteResult, isBlobKey } from '../../domain/ports/blob-store.js';

export interface S3Options {
  bucket: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** Key prefix inside the bucket (e.g. `crm-media/`), so the bucket can be shared. */
  prefix?: string | undefined;
  /** Bytes per multipart part (S3 minimum 5 MiB); also the memory one upload holds. */
  partSize?: number | undefined;
  /** Uploads streaming to S3 at once; more wait (their request bodies are not read meanwhile). */
  maxConcurrentUploads?: number | undefined;
  /** Explicit credentials (tests); otherwise the standard AWS chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

const MiB = 1024 * 1024;

/** A counting semaphore: bounded memory for uploads whatever their number. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly slots: Slots;

  constructor(opts: S3Options) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 5 * MiB);
    this.slots = new Slots(opts.maxConcurrentUploads ?? 16);
    this.client = new S3Client({
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? false,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // Third-party S3 servers reject the SDK's default CRC32 checksums (aws-sdk-js-v3#6810).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    if (!isBlobKey(key)) throw new Error(`not a blob key: ${key}`);
    return `${this.prefix}${key}`;
  }

  async put(source: Readable): Promise<BlobWriteResult> {
    // Errors of the source and of the counting stage are reported through `failed` below; these listeners only
    // keep an 'error' emitted while nobody else listens (before the upload reads, after it stops) from ending the
    // process.
    source.on('error', ignore);
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    counted.on('error', ignore);
    const failed = new Promise<never>((_, reject) => {
      source.on('error', reject);
      counted.on('error', reject);
    });
    failed.catch(ignore);
    source.on('error', (err) => counted.destroy(err));
    const release = await this.slots.take();
    const key = randomBytes(16).toString('hex');
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: source.pipe(counted) },
      partSize: this.partSize,
      queueSize: 1,
      // A failed multipart upload is aborted, so no parts linger (servers without Abort leave them to lifecycle rules).
      leavePartsOnError: false,
    });
    try {
      await Promise.race([upload.done(), failed]);
    } catch (err) {
      await upload.abort().catch(ignore);
      // If the object was completed before the failure surfaced, it must not stay readable under a key.
      await this.delete(key).catch(ignore);
      throw err;
    } finally {
      release();
    }
    return { key, size };
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async open(key: string, range?: BlobRange): Promise<BlobReader | undefined> {
    // The size hint of OpenOptions does not help here: one GET costs the same either way.
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      const total = range ? Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1] ?? NaN) : (res.ContentLength ?? 0);
      const size = Number.isFinite(total) ? total : ((await this.size(key)) ?? 0);
      return { size, stream: res.Body as Readable };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async *list(): AsyncIterable<BlobListing> {
    let token: string | undefined;
    // Bounded: every page advances the continuation token, and S3 ends the listing.
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          ...(this.prefix ? { Prefix: this.prefix } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? []) {
        const key = (o.Key ?? '').slice(this.prefix.length);
        if (!isBlobKey(key)) continue;
        yield { key, size: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      if (!page.IsTruncated || !page.NextContinuationToken) return;
      token = page.NextContinuationToken;
    }
  }

  async discardIncompleteWrites(before: number): Promise<number> {
    let uploads;
    try {
      uploads = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, ...(this.prefix ? { Prefix: this.prefix } : {}) }),
      );
    } catch (err) {
      // Some S3-compatible servers (s3rver) do not implement the listing; nothing can be done there.
      if ((err as { name?: string }).name === 'NotImplemented') return 0;
      throw err;
    }
    let aborted = 0;
    for (const u of uploads.Uploads ?? []) {
      if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= before) continue;
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
      aborted++;
    }
    return aborted;
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function ignore(): void {}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
