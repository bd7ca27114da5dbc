import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Inspector } from '../../src/streams/inspector.js';

class TooLarge extends Error {}

async function run(chunks: Buffer[], maxBytes: number, hash = true) {
  const inspector = new Inspector({ maxBytes, hash, tooLarge: () => new TooLarge() });
  const seen: Buffer[] = [];
  let pulled = 0;
  const source = Readable.from(
    (function* () {
      for (const c of chunks) {
        pulled += c.length;
        yield c;
      }
    })(),
  );
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      seen.push(chunk);
      done();
    },
  });
  try {
    await pipeline(source, inspector, sink);
    return { ok: true as const, data: Buffer.concat(seen), sha256: inspector.sha256, bytes: inspector.bytes, pulled };
  } catch (err) {
    return { ok: false as const, err, passed: Buffer.concat(seen).length, pulled };
  }
}

describe('Inspector (size limit while streaming)', () => {
  it('property: accepts exactly the inputs of at most maxBytes, passing them through unchanged with their hash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.integer({ min: 0, max: 700 }), async (arrays, max) => {
        const chunks = arrays.map((a) => Buffer.from(a));
        const all = Buffer.concat(chunks);
        const r = await run(chunks, max);
        if (all.length <= max) {
          expect(r.ok).toBe(true);
          if (r.ok) {
            expect(r.data.equals(all)).toBe(true);
            expect(r.sha256).toBe(createHash('sha256').update(all).digest('hex'));
            expect(r.bytes).toBe(all.length);
          }
        } else {
          expect(r.ok).toBe(false);
          if (!r.ok) {
            expect(r.err).toBeInstanceOf(TooLarge);
            // Nothing past the limit reaches the sink.
            expect(r.passed).toBeLessThanOrEqual(max);
          }
        }
      }),
    );
  });

  it('computes no hash unless asked to (content hashing is optional)', async () => {
    const r = await run([Buffer.from('abc')], 10, false);
    expect(r.ok && r.sha256).toBeNull();
    expect(r.ok && r.bytes).toBe(3);
  });

  it('stops pulling from the source soon after the limit, not at its end', async () => {
    const chunk = Buffer.alloc(64 * 1024);
    const chunks = Array.from({ length: 1600 }, () => chunk); // 100 MiB if fully read
    const r = await run(chunks, 1024 * 1024);
    expect(r.ok).toBe(false);
    expect(r.pulled).toBeLessThan(4 * 1024 * 1024);
  });
});
