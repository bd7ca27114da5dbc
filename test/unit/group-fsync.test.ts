import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupFsync } from '../../src/storage/metadata/group-fsync.js';

/** A fake fsync that records when each call starts and ends, finishing after `ms`. */
function fakeFsync(ms: () => number) {
  const calls: { start: number; end?: number }[] = [];
  let clock = 0;
  const fsync = async () => {
    const call: { start: number; end?: number } = { start: ++clock };
    calls.push(call);
    await new Promise((r) => setTimeout(r, ms()));
    call.end = ++clock;
  };
  return { calls, fsync, tick: () => ++clock };
}

describe('GroupFsync (group commit for the SQLite WAL)', () => {
  it('shares fsyncs between concurrent callers', async () => {
    const f = fakeFsync(() => 5);
    const g = new GroupFsync('/wal', f.fsync);
    await Promise.all(Array.from({ length: 100 }, () => g.sync()));
    expect(f.calls.length).toBeLessThanOrEqual(2);
  });

  it('property: every sync() resolves only after an fsync that started after it was called', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 25 }), fc.integer({ min: 0, max: 3 }), async (gaps, dur) => {
        const f = fakeFsync(() => dur);
        const g = new GroupFsync('/wal', f.fsync);
        const waits: Promise<void>[] = [];
        for (const gap of gaps) {
          await new Promise((r) => setTimeout(r, gap));
          const calledAt = f.tick();
          waits.push(
            g.sync().then(() => {
              const resolvedAt = f.tick();
              // Some fsync both started after the call and finished before the caller was told.
              expect(f.calls.some((c) => c.start > calledAt && c.end !== undefined && c.end < resolvedAt)).toBe(true);
            }),
          );
        }
        await Promise.all(waits);
      }),
      { numRuns: 40 },
    );
  });

  it('reports a failed fsync to the callers that waited for it, and recovers', async () => {
    let fail = true;
    const g = new GroupFsync('/wal', async () => {
      if (fail) throw new Error('EIO');
    });
    await expect(g.sync()).rejects.toThrow('EIO');
    fail = false;
    await expect(g.sync()).resolves.toBeUndefined();
  });
});
