/**
 * Where an S3 upload's part waits (src/storage/blobs/s3-parts.ts): in slabs of a shared pool while it has some, in a
 * temp file once it has none. Whatever the chunking and the pool, a part's body is exactly the bytes appended, the
 * pool never lends more than its total, and every slab comes back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PartBody, PartBuffer, SlabPool, SpoolDir } from '../../src/storage/blobs/s3-parts.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-parts-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function bytesOf(body: PartBody): Promise<Buffer> {
  if ('buffer' in body) return body.buffer;
  const chunks: Buffer[] = [];
  for await (const c of body.stream()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('PartBuffer', () => {
  it('property: the body is the bytes appended, read twice; slabs come back; a full pool sends the part to a file', async () => {
    const SLAB = 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.nat({ max: 5000 }), { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        fc.nat({ max: 8 }),
        fc.nat({ max: 4 }),
        async (parts, slabs, heldByOthers) => {
          const pool = new SlabPool(slabs * SLAB, SLAB, 4 * SLAB);
          const others = Array.from({ length: heldByOthers }, () => pool.take()).filter((s): s is Buffer => s !== undefined);
          const free = slabs - others.length;
          const part = new PartBuffer(pool, new SpoolDir(join(dir, 'spool')));
          let spilledBefore = false;
          try {
            for (const sizes of parts) {
              const data = sizes.map((n) => randomBytes(n));
              const total = data.reduce((n, d) => n + d.length, 0);
              for (const d of data) await part.append(d);
              expect(part.size).toBe(total);
              expect(pool.inUse).toBeLessThanOrEqual(slabs * SLAB);
              if (!part.spilled) expect(pool.inUse - others.length * SLAB).toBe(Math.ceil(total / SLAB) * SLAB);
              else if (!spilledBefore) expect(total).toBeGreaterThan(free * SLAB);
              // Only a part that cannot fit the slabs left goes to a file (and then stays there for later parts).
              if (!spilledBefore && total <= free * SLAB) expect(part.spilled).toBe(false);
              spilledBefore = part.spilled;
              const want = Buffer.concat(data);
              expect((await bytesOf(part.body())).equals(want)).toBe(true);
              expect((await bytesOf(part.body())).equals(want)).toBe(true);
              part.clear();
              expect(pool.inUse).toBe(others.length * SLAB);
            }
          } finally {
            await part.dispose();
          }
          for (const s of others) pool.give(s);
          expect(pool.inUse).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
    // Spilled parts live in unlinked files.
    expect(await readdir(join(dir, 'spool')).catch(() => [])).toEqual([]);
  });
});

describe('SlabPool', () => {
  it('lends at most its total, reuses given slabs, and keeps at most keepFree of them', () => {
    const pool = new SlabPool(4 * 1024, 1024, 2 * 1024);
    const taken = [pool.take(), pool.take(), pool.take(), pool.take()];
    expect(taken.every((s) => s?.length === 1024)).toBe(true);
    expect(pool.take()).toBeUndefined();
    for (const s of taken) pool.give(s!);
    expect(pool.inUse).toBe(0);
    // Two were kept for reuse, two dropped (and may be allocated anew): four can be taken again, no more.
    const again = [pool.take(), pool.take(), pool.take(), pool.take()];
    expect(again.filter((s) => taken.includes(s)).length).toBe(2);
    expect(pool.take()).toBeUndefined();
  });
});
