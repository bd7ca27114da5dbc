/**
 * When bytes may go: retired bytes only after the change that unreferenced them is durable, unfinished writes only
 * once they are older than both the sweep grace and the request timeout (a write can last that long).
 */
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobJanitor } from '../../src/domain/blob-cleanup.js';
import { silentLogger as quiet } from '../../src/domain/ports/logger.js';
import { DiskBlobStore } from '../../src/storage/blobs/disk.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { OrphanSweeper } from '../../src/domain/orphan-sweeper.js';

let dir: string;
let blobs: DiskBlobStore;
let store: MetadataStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-removal-'));
  blobs = await new DiskBlobStore(join(dir, 'blobs-root')).init();
  store = await openSqliteStore({ file: join(dir, 'm.sqlite') });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('BlobJanitor', () => {
  it('removes retired bytes only once the change is durable; refused uploads at once', async () => {
    let makeDurable!: () => void;
    const durable = new Promise<void>((r) => (makeDurable = r));
    const janitor = new BlobJanitor(blobs, quiet, () => durable);
    const retired = await blobs.put(Readable.from([Buffer.from('old photo')]));
    const refused = await blobs.put(Readable.from([Buffer.from('refused upload')]));
    janitor.retire(retired.key);
    janitor.discard(refused.key);
    await new Promise((r) => setTimeout(r, 50));
    expect(await blobs.size(retired.key)).toBe(9);
    expect(await blobs.size(refused.key)).toBeUndefined();
    makeDurable();
    await janitor.settled();
    expect(await blobs.size(retired.key)).toBeUndefined();
  });

  it('keeps retired bytes when durability fails (the sweeper decides later)', async () => {
    const janitor = new BlobJanitor(blobs, quiet, () => Promise.reject(new Error('fsync failed')));
    const retired = await blobs.put(Readable.from([Buffer.from('old photo')]));
    janitor.retire(retired.key);
    await janitor.settled();
    expect(await blobs.size(retired.key)).toBe(9);
  });
});

describe('BlobJanitor holding retired bytes for nginx', () => {
  it('holds them from retirement on, through durability, until the delay ends; the sweeper leaves them', async () => {
    let makeDurable!: () => void;
    const durable = new Promise<void>((r) => (makeDurable = r));
    const janitor = new BlobJanitor(blobs, quiet, () => durable, 200);
    const sweeper = new OrphanSweeper(store.maintenance, blobs, { graceMs: 0, writeWindowMs: 0, now: () => Date.now() + 60_000, log: quiet, keep: (k) => janitor.isHeld(k) });
    const retired = await blobs.put(Readable.from([Buffer.from('old photo')]));
    janitor.retire(retired.key);
    expect(janitor.isHeld(retired.key)).toBe(true);
    expect((await sweeper.sweep()).removed).toBe(0);
    makeDurable();
    await janitor.settled();
    expect(janitor.isHeld(retired.key)).toBe(true);
    expect(await blobs.size(retired.key)).toBe(9);
    await new Promise((r) => setTimeout(r, 400));
    await janitor.settled();
    expect(janitor.isHeld(retired.key)).toBe(false);
    expect(await blobs.size(retired.key)).toBeUndefined();
  });

  it('lets them go to the sweeper when durability fails, and keeps them on close', async () => {
    const failing = new BlobJanitor(blobs, quiet, () => Promise.reject(new Error('fsync failed')), 200);
    const notDurable = await blobs.put(Readable.from([Buffer.from('a')]));
    failing.retire(notDurable.key);
    await failing.settled();
    expect(failing.isHeld(notDurable.key)).toBe(false);
    expect(await blobs.size(notDurable.key)).toBe(1);

    const closing = new BlobJanitor(blobs, quiet, () => Promise.resolve(), 200);
    const held = await blobs.put(Readable.from([Buffer.from('bb')]));
    closing.retire(held.key);
    await closing.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(closing.isHeld(held.key)).toBe(false);
    expect(await blobs.size(held.key)).toBe(2);
  });
});

describe('OrphanSweeper and unfinished writes', () => {
  async function staleTempFile(ageMs: number): Promise<string> {
    const p = join(dir, 'blobs-root', 'tmp', '0123456789abcdef0123456789abcdef.part');
    await writeFile(p, 'partial');
    const then = new Date(Date.now() - ageMs);
    await utimes(p, then, then);
    return p;
  }

  it('spares an unfinished write younger than the request timeout, even with no grace at all', async () => {
    await staleTempFile(60_000);
    const sweeper = new OrphanSweeper(store.maintenance, blobs, { graceMs: 0, writeWindowMs: 120_000, now: Date.now, log: quiet });
    expect((await sweeper.sweep()).incompleteRemoved).toBe(0);
    expect(await readdir(join(dir, 'blobs-root', 'tmp'))).toHaveLength(1);
  });

  it('removes it once it is older than both bounds', async () => {
    await staleTempFile(60_000);
    const sweeper = new OrphanSweeper(store.maintenance, blobs, { graceMs: 0, writeWindowMs: 30_000, now: Date.now, log: quiet });
    expect((await sweeper.sweep()).incompleteRemoved).toBe(1);
    expect(await readdir(join(dir, 'blobs-root', 'tmp'))).toEqual([]);
  });
});
