/**
 * Helpers for the photo and attachment upload tests: bounded polling, "nothing changed" checks (blobs, temp
 * files), bodies that fail midway (client aborts) and a loose check for any Zoho 400 error.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { HttpResponse, TestServer } from './server.js';

export const MiB = 1024 * 1024;

/** Calls `probe` until `ok` holds or `timeoutMs` passes (bounded), and returns the last value seen. */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 2_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  for (let i = 0; i < 10_000 && !ok(value) && Date.now() < deadline; i++) {
    await sleep(stepMs);
    value = await probe();
  }
  return value;
}

/** Temp files (partial writes) are gone, at the latest after a short while. */
export async function expectNoTempFiles(server: TestServer): Promise<void> {
  expect(await eventually(() => server.tempFiles(), (f) => f.length === 0)).toEqual([]);
}

/** The set of complete blobs is (eventually) exactly `before`. */
export async function expectBlobs(server: TestServer, before: readonly string[]): Promise<void> {
  const same = (now: string[]) => now.length === before.length && now.every((k, i) => k === before[i]);
  expect(await eventually(() => server.blobFiles(), same)).toEqual([...before]);
}

/** Keys present in `after` and not in `before`. */
export function added(before: readonly string[], after: readonly string[]): string[] {
  const known = new Set(before);
  return after.filter((k) => !known.has(k));
}

/** Any Zoho error with HTTP 400: JSON, the four-key envelope, status "error", no internals. */
export function expectAnyZoho400(res: HttpResponse): void {
  expect({ status: res.status, body: res.json }, res.text).toMatchObject({ status: 400, body: { status: 'error' } });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.json).sort()).toEqual(['code', 'details', 'message', 'status']);
  expect(typeof res.json.code).toBe('string');
  expect(typeof res.json.message).toBe('string');
  expect(typeof res.json.details).toBe('object');
  expect(res.text).not.toMatch(/\bat .+\(.*:\d+:\d+\)|node_modules|\/src\/|Error:/);
}

/**
 * A multipart body with one `file` part (starting with `head`) that fails after `abortAfter` content bytes, as a
 * client that goes away mid-upload: undici then destroys the connection.
 */
export function abortingFilePart(
  head: Buffer,
  abortAfter: number,
  filename = 'abort.png',
): { contentType: string; body: AsyncIterable<Buffer>; sent: () => number } {
  const boundary = `----abort${randomBytes(8).toString('hex')}`;
  let sent = 0;
  async function* generate(): AsyncIterable<Buffer> {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/png\r\n\r\n`,
    );
    yield head;
    sent += head.length;
    const filler = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 100_000 && sent < abortAfter; i++) {
      const n = Math.min(filler.length, abortAfter - sent);
      yield filler.subarray(0, n);
      sent += n;
    }
    // Give the server a moment to have the partial upload in flight, then give up.
    await sleep(100);
    throw new Error('client gave up');
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: generate(), sent: () => sent };
}

/** Deterministic bytes that start with no image signature. */
export function garbage(size: number, seed = 12345): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  out[0] = 0x00;
  out[1] = 0x13;
  return out;
}
