/**
 * What only a real S3 store shows about S3BlobStore (the `s3` project, on the run's radosgw): listings and sweeps
 * over several pages — past S3's 1,000 keys per page, and with small pages — and where an upload's bytes wait when
 * the part memory is spent. The listing and multipart cases are skipped on s3rver, which implements neither
 * (test/support/ceph/global-setup.ts says so when the run starts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore, type S3Options } from '../../src/storage/blobs/s3.js';
import { type TestBucket, realS3, startS3 } from '../helpers/backend.js';

const MiB = 1024 * 1024;
let dir: string;
let bucket: TestBucket;
const stores: S3BlobStore[] = [];

function store(opts: Partial<S3Options> = {}): S3BlobStore {
  const s = new S3BlobStore({ bucket: bucket.bucket, endpoint: bucket.endpoint, forcePathStyle: true, credentials: bucket.credentials, ...opts });
  stores.push(s);
  return s;
}

const blobKey = () => randomBytes(16).toString('hex');

/** Runs `fn` over `items`, `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += limit) out.push(...(await Promise.all(items.slice(i, i + limit).map(fn))));
  return out;
}

async function keysOf(s: S3BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const b of s.list()) keys.push(b.key);
  return keys.sort();
}

async function uploadsUnder(prefix: string): Promise<number> {
  let n = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  // Bounded by the few pages these tests make.
  for (let page = 0; page < 100; page++) {
    const res = await bucket.client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    n += res.Uploads?.length ?? 0;
    if (!res.IsTruncated) return n;
    [keyMarker, uploadIdMarker] = [res.NextKeyMarker, res.NextUploadIdMarker];
  }
  throw new Error('too many pages');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-s3-store-'));
  bucket = await startS3(join(dir, 's3rver'));
});

afterAll(async () => {
  for (const s of stores) await s.close();
  await bucket?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(realS3())('listings over several pages (radosgw)', () => {
  it('lists 1,100 blobs — past one 1,000-key page — and the same with 300-key pages; other keys are left out', async () => {
    const prefix = 'many/';
    const keys = Array.from({ length: 1_100 }, blobKey).sort();
    await mapLimit(keys, 32, (k) => bucket.client.send(new PutObjectCommand({ Bucket: bucket.bucket, Key: `${prefix}${k}`, Body: k.slice(0, 4) })));
    // Not blob keys: another application's objects under the same prefix are never listed (nor swept).
    for (const other of ['README', `${keys[0]}.bak`, 'sub/x']) {
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.bucket, Key: `${prefix}${other}`, Body: 'x' }));
    }
    expect(await keysOf(store({ prefix }))).toEqual(keys);
    expect(await keysOf(store({ prefix, listPageSize: 300 }))).toEqual(keys);
    const sizes = new Set<number>();
    for await (const b of store({ prefix }).list()) sizes.add(b.size);
    expect([...sizes]).toEqual([4]);
  });

  it('aborts every stale unfinished upload over several pages of ListMultipartUploads, and keeps the recent ones', async () => {
    const prefix = 'unfinished/';
    const stale = Array.from({ length: 23 }, () => `${prefix}${blobKey()}`);
    // Two uploads of one key: the page markers are (key, upload id) pairs, not keys alone.
    stale.push(stale[0]!);
    await mapLimit(stale, 8, (Key) => bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.bucket, Key })));
    const cutoff = Date.now() + 1_000;
    await new Promise((r) => setTimeout(r, 1_500));
    const recent = `${prefix}${blobKey()}`;
    await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.bucket, Key: recent }));
    expect(await uploadsUnder(prefix)).toBe(25);
    // Pages of 5: five full pages and one more.
    expect(await store({ prefix, listPageSize: 5 }).discardIncompleteWrites(cutoff)).toBe(24);
    expect(await uploadsUnder(prefix)).toBe(1);
  });
});

/** A body that sends `first` bytes at once and the rest only when `release()` is called. */
function stalledBody(total: number) {
  const data = randomBytes(total);
  const source = new PassThrough();
  source.write(data.subarray(0, total >> 1));
  return { source, sha256: createHash('sha256').update(data).digest('hex'), release: () => source.end(data.subarray(total >> 1)) };
}

async function sha256Of(s: S3BlobStore, key: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of (await s.open(key))!.stream) h.update(c as Buffer);
  return h.digest('hex');
}

describe('part memory: a stalled upload makes no other upload wait', () => {
  it('with the budget held by stalled uploads, others collect their parts in temp files and finish; all bytes arrive intact', async () => {
    const spoolDir = join(dir, 'spool');
    // A budget of one 5 MiB part.
    const s = store({ prefix: 'budget/', maxConcurrentUploads: 1, spoolDir });
    const stalled = Array.from({ length: 4 }, () => stalledBody(4 * MiB));
    const pending = stalled.map((b) => s.put(b.source));
    let settled = 0;
    for (const p of pending) void p.then(() => settled++, () => settled++);
    // Each stalled upload holds half its body (2 MiB); the first two fit the budget, the others spilled.
    await expect.poll(() => s.partMemoryInUse, { timeout: 5_000 }).toBe(4 * MiB);

    const small = randomBytes(300_000);
    const big = randomBytes(12 * MiB + 5);
    const [a, b] = await Promise.all([s.put(Readable.from([small])), s.put(Readable.from([big.subarray(0, 7 * MiB), big.subarray(7 * MiB)]))]);
    expect(settled).toBe(0);
    expect(await sha256Of(s, a.key)).toBe(createHash('sha256').update(small).digest('hex'));
    expect(await sha256Of(s, b.key)).toBe(createHash('sha256').update(big).digest('hex'));

    for (const x of stalled) x.release();
    const done = await Promise.all(pending);
    for (let i = 0; i < done.length; i++) {
      expect(done[i]!.size).toBe(4 * MiB);
      expect(await sha256Of(s, done[i]!.key)).toBe(stalled[i]!.sha256);
    }
    expect(s.partMemoryInUse).toBe(0);
    // Spilled parts live in unlinked files: nothing is left in the spool directory, and closing removes it.
    expect(await readdir(spoolDir)).toEqual([]);
    await s.close();
    await expect(readdir(spoolDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a failing source gives its part memory back', async () => {
    const s = store({ prefix: 'budget-fail/' });
    const source = Readable.from(
      (async function* () {
        yield randomBytes(MiB);
        throw new Error('client went away');
      })(),
    );
    await expect(s.put(source)).rejects.toThrow('client went away');
    expect(s.partMemoryInUse).toBe(0);
  });
});
