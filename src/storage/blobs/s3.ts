/**
 * Blobs in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO, R2, s3rver). Each blob version has its own key, so a
 * replacement never overwrites bytes a concurrent download is reading. An upload collects its bytes into a part
 * (s3-parts.ts: a shared pool of memory, or a temp file once the pool is spent) and sends it once whole: a body that ends
 * within one part is one PutObject, a longer one a multipart upload, one part at a time. Nothing is sent, and no
 * S3 resource is held, for bytes that have not arrived, so a client that stalls holds only what it sent.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type PartBody, PartBuffer, SlabPool, SpoolDir } from './s3-parts.js';
import { type BlobListing, type BlobRange, type BlobReader, type BlobStore, type BlobWriteResult, isBlobKey } from '../../domain/ports/blob-store.js';

export interface S3Options {
  bucket: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** Key prefix inside the bucket (e.g. `crm-media/`), so the bucket can be shared. */
  prefix?: string | undefined;
  /** Bytes per multipart part (S3 minimum 5 MiB). */
  partSize?: number | undefined;
  /**
   * Parts held in memory at once over all uploads (× partSize is the memory budget); parts of further uploads are
   * collected in temp files instead (`spoolDir`), so no upload waits for another.
   */
  maxConcurrentUploads?: number | undefined;
  /** Where parts go once the memory budget is spent (default: the OS temp directory). */
  spoolDir?: string | undefined;
  /** Keys per ListObjectsV2 page and uploads per ListMultipartUploads page (S3's default and maximum: 1,000). */
  listPageSize?: number | undefined;
  /** Explicit credentials (tests); otherwise the standard AWS chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

const MiB = 1024 * 1024;
/** Attempts for a part sent as a stream (the SDK resends only buffers); a 4xx answer, the request's own fault, is final. */
const STREAM_ATTEMPTS = 3;

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly listPageSize: number | undefined;
  private readonly pool: SlabPool;
  private readonly spool: SpoolDir;

  constructor(opts: S3Options) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 5 * MiB);
    this.listPageSize = opts.listPageSize;
    this.pool = new SlabPool((opts.maxConcurrentUploads ?? 16) * this.partSize);
    this.spool = new SpoolDir(opts.spoolDir ?? join(tmpdir(), `crm-media-s3-parts-${process.pid}`));
    this.client = new S3Client({
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? false,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // Third-party S3 servers reject the SDK's default CRC32 checksums (aws-sdk-js-v3#6810).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK's default pool is 50 sockets. A download whose client reads slowly keeps its S3 response, and so a
      // socket, open for as long as it reads: with a cap, 50 slow readers would make every other S3 request wait.
      // Sockets are bounded by this server's own connections instead.
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: Infinity }, httpsAgent: { keepAlive: true, maxSockets: Infinity } },
    });
  }

  private objectKey(key: string): string {
    if (!isBlobKey(key)) throw new Error(`not a blob key: ${key}`);
    return `${this.prefix}${key}`;
  }

  /** Part memory in use over all uploads (for tests). */
  get partMemoryInUse(): number {
    return this.pool.inUse;
  }

  async put(source: Readable): Promise<BlobWriteResult> {
    // An error the source emits after the loop below stopped listening (the store failed first) must not go unheard.
    source.on('error', ignore);
    const key = randomBytes(16).toString('hex');
    const Key = this.objectKey(key);
    const part = new PartBuffer(this.pool, this.spool);
    let multipart: { uploadId: string; parts: CompletedPart[] } | undefined;
    let size = 0;
    let sent = false;
    try {
      // Async iteration reads the next chunk only when asked: while a part is sent, the body waits in the socket.
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        size += buf.length;
        await part.append(buf);
        if (part.size >= this.partSize) {
          multipart ??= { uploadId: await this.createMultipart(Key), parts: [] };
          await this.sendPart(Key, multipart, part);
        }
      }
      if (!multipart) {
        sent = true;
        await this.withBody(part.body(), (Body) => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, ContentLength: part.size })));
      } else {
        if (part.size > 0) await this.sendPart(Key, multipart, part);
        sent = true;
        await this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: multipart.uploadId, MultipartUpload: { Parts: multipart.parts } }),
        );
      }
    } catch (err) {
      if (multipart) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: multipart.uploadId })).catch(ignore);
      // The last request may have stored the object although its answer was lost: it must not stay under a key.
      if (sent) await this.delete(key).catch(ignore);
      throw err;
    } finally {
      await part.dispose();
    }
    return { key, size };
  }

  private async createMultipart(Key: string): Promise<string> {
    const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
    if (!res.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    return res.UploadId;
  }

  private async sendPart(Key: string, multipart: { uploadId: string; parts: CompletedPart[] }, part: PartBuffer): Promise<void> {
    const PartNumber = multipart.parts.length + 1;
    const res = await this.withBody(part.body(), (Body) =>
      this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: multipart.uploadId, PartNumber, Body, ContentLength: part.size })),
    );
    multipart.parts.push({ PartNumber, ETag: res.ETag });
    part.clear();
  }

  /** Sends a part's bytes; a stream body is made afresh for each attempt, since the SDK cannot resend one. */
  private async withBody<R>(body: PartBody, request: (Body: Buffer | Readable) => Promise<R>): Promise<R> {
    if ('buffer' in body) return request(body.buffer);
    // Bounded: STREAM_ATTEMPTS.
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(body.stream());
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (attempt >= STREAM_ATTEMPTS || (status !== undefined && status < 500)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
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
          ...(this.listPageSize ? { MaxKeys: this.listPageSize } : {}),
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
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    // Bounded: every page advances the markers, and S3 ends the listing. Aborting while paging is safe: the
    // markers name the last upload listed, not a position.
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            ...(this.prefix ? { Prefix: this.prefix } : {}),
            ...(this.listPageSize ? { MaxUploads: this.listPageSize } : {}),
            ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
      } catch (err) {
        // Some S3-compatible servers (s3rver) do not implement the listing; nothing can be done there.
        if ((err as { name?: string }).name === 'NotImplemented') return aborted;
        throw err;
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= before) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      if (!page.IsTruncated) return aborted;
      const next = [page.NextKeyMarker, page.NextUploadIdMarker];
      if (!next[0] || (next[0] === keyMarker && next[1] === uploadIdMarker)) {
        throw new Error('ListMultipartUploads is truncated but does not advance its markers');
      }
      [keyMarker, uploadIdMarker] = next;
    }
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.spool.remove();
  }
}

function ignore(): void {}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
