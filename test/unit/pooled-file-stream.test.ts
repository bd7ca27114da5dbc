/**
 * PooledFileReadStream over real HTTP on 127.0.0.1: the bytes of any range arrive whole, buffers are reused across
 * downloads, a buffer is never reused while a slow client's socket still holds it, and a client that leaves, a
 * file shorter than promised, or an empty range all end with the file handle closed.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/storage/blobs/buffer-pool.js';
import { PooledFileReadStream } from '../../src/storage/blobs/pooled-file-stream.js';

/** A pool that remembers every buffer it handed out, so a test can count how many distinct ones were needed. */
class WatchedPool extends BufferPool {
  readonly handedOut = new Set<Buffer>();
  override acquire(): Buffer {
    const buf = super.acquire();
    this.handedOut.add(buf);
    return buf;
  }
}

interface Served {
  file: string;
  start: number;
  last: number;
  pool: BufferPool;
}

let dir: string;
let server: Server;
let base: string;
/** What the next requests serve, by path; and every stream made, so tests can watch them end. */
const routes = new Map<string, Served>();
const streams: PooledFileReadStream[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pooled-stream-'));
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const served = routes.get(req.url ?? '');
    if (!served) return void res.writeHead(404).end();
    void open(served.file, 'r').then((handle) => {
      const stream = new PooledFileReadStream(handle, served.start, served.last, served.pool);
      streams.push(stream);
      // As Fastify does: a failing source ends the response (pipe() alone would leave it open).
      stream.on('error', () => res.destroy());
      res.writeHead(200, { 'content-length': String(Math.max(0, served.last - served.start + 1)) });
      stream.pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

let fileCount = 0;
async function fileOf(bytes: Buffer): Promise<string> {
  const file = join(dir, `f${fileCount++}`);
  await writeFile(file, bytes);
  return file;
}

function route(served: Served): string {
  const path = `/r${routes.size}`;
  routes.set(path, served);
  return `${base}${path}`;
}

/** GETs a URL; `stallMs` leaves the socket unread that long first, so the server's writes back up. */
function fetchBytes(url: string, stallMs = 0): Promise<{ status: number; body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      if (stallMs > 0) {
        res.pause();
        setTimeout(() => res.resume(), stallMs);
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: false }));
    }).on('error', reject);
  });
}

function closed(stream: PooledFileReadStream): Promise<void> {
  return stream.closed ? Promise.resolve() : new Promise((resolve) => stream.once('close', () => resolve()));
}

describe('PooledFileReadStream piped to an HTTP response', () => {
  it('sends exactly the bytes of any range, whatever the chunk size, and closes its file', async () => {
    const content = randomBytes(200_003);
    const file = await fileOf(content);
    const range = fc
      .tuple(fc.nat({ max: content.length - 1 }), fc.nat({ max: content.length - 1 }))
      .map(([a, b]) => ({ start: Math.min(a, b), last: Math.max(a, b) }));
    await fc.assert(
      fc.asyncProperty(range, fc.constantFrom(1024, 4096, 65_536), async ({ start, last }, chunk) => {
        const url = route({ file, start, last, pool: new BufferPool(chunk, 4) });
        const res = await fetchBytes(url);
        expect(res.status).toBe(200);
        expect(res.complete).toBe(true);
        expect(res.body.equals(content.subarray(start, last + 1))).toBe(true);
        await closed(streams.at(-1)!);
      }),
      { numRuns: 40 },
    );
  });

  it('reuses its buffers: ten 1 MiB downloads in 16 KiB chunks need a handful of buffers, not 640', async () => {
    const content = randomBytes(1024 * 1024);
    const pool = new WatchedPool(16 * 1024, 8);
    const url = route({ file: await fileOf(content), start: 0, last: content.length - 1, pool });
    for (let i = 0; i < 10; i++) expect((await fetchBytes(url)).body.equals(content)).toBe(true);
    expect(pool.handedOut.size).toBeGreaterThanOrEqual(1);
    expect(pool.handedOut.size).toBeLessThanOrEqual(8);
    expect(pool.idleCount).toBe(pool.handedOut.size);
  });

  it('never reuses a buffer a stalled client has not been sent yet: concurrent downloads of different files stay intact', async () => {
    // One pool of small buffers for all: a buffer given back too early would carry another file's bytes.
    const pool = new WatchedPool(4096, 4);
    // Larger than the kernel's socket buffers (a few MiB on loopback), so a stalled client backs writes up in Node.
    const files = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const content = randomBytes(12 * 1024 * 1024);
        return { content, url: route({ file: await fileOf(content), start: 0, last: content.length - 1, pool }) };
      }),
    );
    const results = await Promise.all(files.map((f, i) => fetchBytes(f.url, 150 + 100 * i)));
    results.forEach((r, i) => {
      expect(r.complete).toBe(true);
      expect(r.body.equals(files[i]!.content), `file ${i}`).toBe(true);
    });
    // Reuse happened (far fewer buffers than the 12,288 chunks), so the check above was a real one.
    expect(pool.handedOut.size).toBeLessThan(3000);
  });

  it('a client that leaves mid-download: the stream is destroyed, its file closed, and the server serves on', async () => {
    const content = randomBytes(8 * 1024 * 1024);
    const url = route({ file: await fileOf(content), start: 0, last: content.length - 1, pool: new BufferPool(65_536, 4) });
    await new Promise<void>((resolve, reject) => {
      get(url, (res) => {
        res.once('data', () => {
          res.destroy();
          resolve();
        });
      }).on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)));
    });
    const stream = streams.at(-1)!;
    await closed(stream);
    expect(stream.destroyed).toBe(true);
    expect(stream.readableEnded).toBe(false);
    expect((await fetchBytes(url)).body.equals(content)).toBe(true);
  });

  it('a file shorter than the range fails the response instead of sending a short body', async () => {
    const url = route({ file: await fileOf(randomBytes(10_000)), start: 0, last: 49_999, pool: new BufferPool(4096, 4) });
    const res = await fetchBytes(url);
    expect(res.complete).toBe(false);
    expect(res.body.length).toBeLessThan(50_000);
    const stream = streams.at(-1)!;
    await closed(stream);
    expect(stream.errored?.message).toMatch(/shorter than its recorded size/);
  });

  it('an empty range sends nothing and ends', async () => {
    const url = route({ file: await fileOf(Buffer.alloc(0)), start: 0, last: -1, pool: new BufferPool(4096, 4) });
    const res = await fetchBytes(url);
    expect(res.complete).toBe(true);
    expect(res.body.length).toBe(0);
    await closed(streams.at(-1)!);
  });
});

describe('PooledFileReadStream read without pipe()', () => {
  it('yields the range with buffers of its own (no write callbacks, so nothing may be reused)', async () => {
    const content = randomBytes(100_000);
    const handle = await open(await fileOf(content), 'r');
    const pool = new WatchedPool(8192, 4);
    const chunks: Buffer[] = [];
    for await (const chunk of new PooledFileReadStream(handle, 1000, 90_000, pool)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(content.subarray(1000, 90_001))).toBe(true);
    expect(pool.handedOut.size).toBe(0);
    expect(handle.fd).toBe(-1);
  });

  it('piped into anything but an HTTP response, uses buffers of its own: a Transform still holds what it called back for', async () => {
    const content = randomBytes(300_000);
    const handle = await open(await fileOf(content), 'r');
    const pool = new WatchedPool(4096, 4);
    // Room for the whole file: every chunk is written, and called back for, before anyone reads the first one.
    const through = new PassThrough({ highWaterMark: 1024 * 1024 });
    const stream = new PooledFileReadStream(handle, 0, content.length - 1, pool);
    stream.pipe(through);
    await once(stream, 'end');
    const chunks: Buffer[] = [];
    for await (const chunk of through) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    expect(pool.handedOut.size).toBe(0);
  });
});

describe('PooledFileReadStream read without pipe(), from a file shorter than the range', () => {
  it('fails instead of ending short', async () => {
    const handle = await open(await fileOf(randomBytes(5000)), 'r');
    const read = async () => {
      for await (const _ of new PooledFileReadStream(handle, 0, 9999, new BufferPool(4096, 4)));
    };
    await expect(read()).rejects.toThrow(/shorter than its recorded size/);
    expect(handle.fd).toBe(-1);
  });
});

describe('BufferPool', () => {
  it('keeps at most `retain` idle buffers, only of its own size, and hands the kept ones out again', () => {
    const pool = new BufferPool(1024, 2);
    const [a, b, c] = [pool.acquire(), pool.acquire(), pool.acquire()];
    expect(new Set([a, b, c]).size).toBe(3);
    pool.release(a);
    pool.release(b);
    pool.release(c);
    pool.release(Buffer.alloc(512));
    expect(pool.idleCount).toBe(2);
    const again = [pool.acquire(), pool.acquire()];
    expect(again.every((x) => x === a || x === b)).toBe(true);
    expect(again[0]).not.toBe(again[1]);
    expect(pool.idleCount).toBe(0);
  });
});
