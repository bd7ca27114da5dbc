/**
 * One behaviour suite for every BlobStore implementation: local disk and memory (`--in-memory`) in the `unit`
 * project, S3 in the `s3` project (against the run's radosgw, or s3rver for a quick local run:
 * test/support/ceph/global-setup.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskBlobStore, writeBufferSize } from '../../src/storage/blobs/disk.js';
import { MemoryBlobStore } from '../../src/storage/blobs/memory.js';
import { S3BlobStore } from '../../src/storage/blobs/s3.js';
import { type BlobStore, BlobStoreFullError } from '../../src/domain/ports/blob-store.js';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { realS3, startS3, testS3Store } from '../helpers/backend.js';

interface Harness {
  store: BlobStore;
  dir: string;
  /** The bucket behind an S3 store, to look at what the store cannot show (unfinished multipart uploads). */
  s3?: { client: S3Client; bucket: string };
  cleanup(): Promise<void>;
}

async function diskHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-blobs-'));
  return { store: await new DiskBlobStore(dir).init(), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function memoryHarness(): Promise<Harness> {
  const store = new MemoryBlobStore(64 * 1024 * 1024);
  return { store, dir: '', cleanup: () => store.close() };
}

async function s3Harness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-s3-'));
  const s3 = await startS3(join(dir, 's3rver'));
  const store = new S3BlobStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
    prefix: 'media/',
  });
  return {
    store,
    dir,
    s3: { client: s3.client, bucket: s3.bucket },
    async cleanup() {
      await store.close();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function failingSource(goodBytes: number): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.alloc(goodBytes, 1);
      throw new Error('client went away');
    })(),
  );
}

const onS3 = process.env['CRM_MEDIA_TEST_BLOB_STORE'] === 's3';
const harnesses: [string, () => Promise<Harness>][] = onS3
  ? [[`s3 (${testS3Store().kind})`, s3Harness]]
  : [
      ['disk', diskHarness],
      ['memory', memoryHarness],
    ];

/** Unfinished multipart uploads under the store's prefix (a real S3 store only). */
async function unfinishedUploads(h: Harness): Promise<string[]> {
  const page = await h.s3!.client.send(new ListMultipartUploadsCommand({ Bucket: h.s3!.bucket, Prefix: 'media/' }));
  return (page.Uploads ?? []).map((u) => u.UploadId!);
}

describe.each(harnesses)('BlobStore conformance: %s', (_name, make) => {
  let h: Harness;
  beforeAll(async () => {
    h = await make();
  });
  afterAll(() => h?.cleanup());

  it('stores bytes under a new key each time and reads them back whole or by range', async () => {
    const data = randomBytes(100_000);
    const a = await h.store.put(Readable.from([data.subarray(0, 40_000), data.subarray(40_000)]));
    const b = await h.store.put(Readable.from([data]));
    expect(a.key).not.toBe(b.key);
    expect(a.key).toMatch(/^[0-9a-f]{32}$/);
    expect(a.size).toBe(100_000);
    expect(await h.store.size(a.key)).toBe(100_000);
    const whole = (await h.store.open(a.key))!;
    expect(whole.size).toBe(100_000);
    expect((await readAll(whole.stream)).equals(data)).toBe(true);
    const part = (await h.store.open(a.key, { start: 10, end: 19 }))!;
    expect(part.size).toBe(100_000);
    expect((await readAll(part.stream)).equals(data.subarray(10, 20))).toBe(true);
  });

  it.each([
    ['empty', 0],
    ['small (read in one go on disk)', 20_000],
    ['at the one-read limit', 64 * 1024],
    ['streamed', 1024 * 1024 + 3],
  ])('reads back a %s blob when told its recorded size, whole and by range', async (_label, n) => {
    const data = randomBytes(n);
    const w = await h.store.put(Readable.from(n > 0 ? [data] : []));
    const whole = (await h.store.open(w.key, undefined, { expectedSize: n }))!;
    expect(whole.size).toBe(n);
    const got = await readAll(whole.stream);
    expect(got.equals(data)).toBe(true);
    if (whole.bytes) expect(whole.bytes.equals(data)).toBe(true);
    if (n === 0) return;
    const range = { start: Math.floor(n / 3), end: n - 2 };
    const part = (await h.store.open(w.key, range, { expectedSize: n }))!;
    expect(part.size).toBe(n);
    expect((await readAll(part.stream)).equals(data.subarray(range.start, range.end + 1))).toBe(true);
  });

  it('stores an empty blob', async () => {
    const e = await h.store.put(Readable.from([]));
    expect(e.size).toBe(0);
    expect((await readAll((await h.store.open(e.key))!.stream)).length).toBe(0);
  });

  it('streams a blob larger than an S3 multipart part (12 MiB) intact', async () => {
    const chunk = randomBytes(1024 * 1024);
    const hash = createHash('sha256');
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 12; i++) {
          hash.update(chunk);
          yield chunk;
        }
      })(),
    );
    const w = await h.store.put(source);
    expect(w.size).toBe(12 * 1024 * 1024);
    const back = createHash('sha256');
    for await (const c of (await h.store.open(w.key))!.stream) back.update(c as Buffer);
    expect(back.digest('hex')).toBe(hash.digest('hex'));
  });

  it('keeps nothing readable when the source fails mid-way (aborted upload), small or multipart-sized', async () => {
    const before = new Set<string>();
    for await (const b of h.store.list()) before.add(b.key);
    await expect(h.store.put(failingSource(1000))).rejects.toThrow('client went away');
    // Past one part (5 MiB) on S3: a multipart upload was started and a part sent before the failure.
    await expect(h.store.put(failingSource(7 * 1024 * 1024))).rejects.toThrow('client went away');
    const after: string[] = [];
    for await (const b of h.store.list()) if (!before.has(b.key)) after.push(b.key);
    expect(after).toEqual([]);
    // …and no unfinished multipart upload holds its parts (s3rver cannot list them).
    if (h.s3 && realS3()) expect(await unfinishedUploads(h)).toEqual([]);
  });

  it('answers undefined for missing keys and deletes idempotently', async () => {
    const missing = 'e'.repeat(32);
    expect(await h.store.open(missing)).toBeUndefined();
    expect(await h.store.size(missing)).toBeUndefined();
    await h.store.delete(missing);
    const w = await h.store.put(Readable.from([Buffer.from('bye')]));
    await h.store.delete(w.key);
    await h.store.delete(w.key);
    expect(await h.store.open(w.key)).toBeUndefined();
  });

  it('lists every stored blob with its size and modification time', async () => {
    const w = await h.store.put(Readable.from([Buffer.from('listed')]));
    const listing = [];
    for await (const b of h.store.list()) listing.push(b);
    const mine = listing.find((b) => b.key === w.key);
    expect(mine?.size).toBe(6);
    expect(Math.abs(Date.now() - mine!.modifiedAt)).toBeLessThan(120_000);
  });

  it('rejects keys that are not blob keys (no path traversal)', async () => {
    await expect(h.store.open('../../etc/passwd')).rejects.toThrow();
    await expect(h.store.delete('../x')).rejects.toThrow();
  });

  it('handles concurrent writes', async () => {
    const datas = Array.from({ length: 16 }, () => randomBytes(50_000));
    const written = await Promise.all(datas.map((d) => h.store.put(Readable.from([d]))));
    for (let i = 0; i < datas.length; i++) {
      expect((await readAll((await h.store.open(written[i]!.key))!.stream)).equals(datas[i]!)).toBe(true);
    }
  });

  it('discards stale incomplete writes and reports the store reachable', async () => {
    await h.store.check();
    if (h.store.kind === 'disk') {
      const stale = join(h.dir, 'tmp', 'leftover.part');
      await writeFile(stale, 'partial');
      await utimes(stale, new Date(0), new Date(0));
      expect(await h.store.discardIncompleteWrites(Date.now() - 1000)).toBe(1);
      expect(await readdir(join(h.dir, 'tmp'))).toEqual([]);
    } else if (realS3()) {
      // An upload left unfinished (a crashed instance) is aborted once it is older than the cut-off, not before.
      const Key = `media/${'a'.repeat(32)}`;
      const { UploadId } = await h.s3!.client.send(new CreateMultipartUploadCommand({ Bucket: h.s3!.bucket, Key }));
      const started = Date.now();
      expect(await h.store.discardIncompleteWrites(started - 60_000)).toBe(0);
      expect(await unfinishedUploads(h)).toEqual([UploadId]);
      expect(await h.store.discardIncompleteWrites(started + 60_000)).toBe(1);
      expect(await unfinishedUploads(h)).toEqual([]);
    } else if (h.store.kind === 'memory') {
      // An unfinished write holds its bytes only while its put runs.
      expect(await h.store.discardIncompleteWrites(Date.now())).toBe(0);
    } else {
      // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: the store reports 0, not an error.
      expect(await h.store.discardIncompleteWrites(Date.now())).toBe(0);
    }
  });
});

describe.skipIf(onS3)('MemoryBlobStore: the byte cap', () => {
  const KiB = 1024;
  const chunked = (sizes: number[]) => Readable.from(sizes.map((n) => Buffer.alloc(n, 7)));

  it('refuses, with BlobStoreFullError, the chunk that would pass the cap, and keeps what fit before', async () => {
    const store = new MemoryBlobStore(100 * KiB);
    const kept = await store.put(chunked([60 * KiB]));
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield Buffer.alloc(10 * KiB);
        }
      })(),
    );
    const err = await store.put(source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobStoreFullError);
    expect(err).toMatchObject({ store: 'memory', limitBytes: 100 * KiB });
    // Refused while streaming: the fifth 10 KiB chunk crosses the cap, and the source is not read much further.
    expect(pulled).toBeLessThan(10);
    expect(source.destroyed).toBe(true);
    expect(store.usedBytes).toBe(60 * KiB);
    expect((await store.open(kept.key))!.size).toBe(60 * KiB);
    const keys: string[] = [];
    for await (const b of store.list()) keys.push(b.key);
    expect(keys).toEqual([kept.key]);
  });

  it('gives the space of deleted blobs back', async () => {
    const store = new MemoryBlobStore(100 * KiB);
    const a = await store.put(chunked([80 * KiB]));
    await expect(store.put(chunked([30 * KiB]))).rejects.toBeInstanceOf(BlobStoreFullError);
    await store.delete(a.key);
    await store.delete(a.key);
    expect(store.usedBytes).toBe(0);
    expect((await store.put(chunked([30 * KiB, 70 * KiB]))).size).toBe(100 * KiB);
  });

  it('property: whatever the writes, what it holds equals the sum of stored blobs and never passes the cap', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.oneof(fc.array(fc.nat({ max: 24 }), { maxLength: 6 }), fc.constant('delete' as const)), { maxLength: 30 }),
        async (cap, ops) => {
          const store = new MemoryBlobStore(cap);
          const live: { key: string; size: number }[] = [];
          for (const op of ops) {
            if (op === 'delete') {
              const gone = live.shift();
              if (gone) await store.delete(gone.key);
              continue;
            }
            const total = op.reduce((a, b) => a + b, 0);
            const before = store.usedBytes;
            const outcome = await store.put(chunked(op)).then(
              (w) => w,
              (e: unknown) => e,
            );
            if (before + total <= cap) {
              expect(outcome).toMatchObject({ size: total });
              live.push(outcome as { key: string; size: number });
            } else {
              expect(outcome).toBeInstanceOf(BlobStoreFullError);
            }
            expect(store.usedBytes).toBe(live.reduce((a, b) => a + b.size, 0));
            expect(store.usedBytes).toBeLessThanOrEqual(cap);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe.skipIf(onS3)('DiskBlobStore: a file that is not the recorded size', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await diskHarness();
  });
  afterAll(() => h?.cleanup());

  it('serves what the file holds (with its real size) when a small read finds another length', async () => {
    const w = await h.store.put(Readable.from([Buffer.from('twelve bytes')]));
    // Told 5 bytes, the file holds 12: the one-shot read sees the difference and falls back to the file's own size.
    const r = (await h.store.open(w.key, undefined, { expectedSize: 5 }))!;
    expect(r.bytes).toBeUndefined();
    expect(r.size).toBe(12);
    expect((await readAll(r.stream)).toString()).toBe('twelve bytes');
  });
});

describe.skipIf(onS3)('DiskBlobStore: what a write leaves behind', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await diskHarness();
  });
  afterAll(() => h?.cleanup());

  const allFiles = async () => {
    const blobs = (await readdir(join(h.dir, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    return { tmp: await readdir(join(h.dir, 'tmp')), blobs: blobs.map((e) => e.name) };
  };

  it('a stored blob is one file under blobs/ and nothing is left in tmp/', async () => {
    const w = await h.store.put(Readable.from([randomBytes(300_000), randomBytes(700_000)]));
    const files = await allFiles();
    expect(files.tmp).toEqual([]);
    expect(files.blobs).toEqual([w.key]);
  });

  it('a source that fails before, during or after the first write leaves no file anywhere', async () => {
    const before = await allFiles();
    const failsAtOnce = new Readable({ read() { this.destroy(new Error('client went away')); } });
    await expect(h.store.put(failsAtOnce)).rejects.toThrow('client went away');
    await expect(h.store.put(failingSource(1))).rejects.toThrow('client went away');
    await expect(h.store.put(failingSource(3 * 1024 * 1024))).rejects.toThrow('client went away');
    expect(await allFiles()).toEqual(before);
  });

  it('a write whose rename fails (its directory is gone) removes its temp file and fails', async () => {
    // Which of the 256 directories a key lands in is random: take them all away.
    const dirs = await readdir(join(h.dir, 'blobs'));
    await Promise.all(dirs.map((d) => rm(join(h.dir, 'blobs', d), { recursive: true })));
    try {
      await expect(h.store.put(Readable.from([Buffer.from('bytes')]))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await readdir(join(h.dir, 'tmp'))).toEqual([]);
    } finally {
      await h.cleanup();
      h = await diskHarness();
    }
  });
});

describe.skipIf(onS3)('DiskBlobStore: write buffers shrink as concurrent writes grow', () => {
  it('property: 64–256 KiB in 64 KiB steps, never larger with more writes, and 8 MiB between them beyond 32', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), (active) => {
        const size = writeBufferSize(active);
        expect(size % (64 * 1024)).toBe(0);
        expect(size).toBeGreaterThanOrEqual(64 * 1024);
        expect(size).toBeLessThanOrEqual(256 * 1024);
        expect(writeBufferSize(active + 1)).toBeLessThanOrEqual(size);
        if (active < 32) expect(size).toBe(256 * 1024);
        if (active >= 32 && active < 128) expect(size * (active + 1)).toBeLessThanOrEqual(8 * 1024 * 1024);
      }),
    );
  });
});
