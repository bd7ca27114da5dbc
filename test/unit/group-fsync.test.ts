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

  describe('with a count of commits', () => {
    /** A fake fsync that records the commit count when each call starts, finishing after `ms`. */
    function counted(ms: () => number) {
      const state = { commits: 0, clock: 0, fail: false };
      const calls: { start: number; covers: number; end?: number; ok?: boolean }[] = [];
      const fsync = async () => {
        const call: (typeof calls)[number] = { start: ++state.clock, covers: state.commits };
        calls.push(call);
        await new Promise((r) => setTimeout(r, ms()));
        call.end = ++state.clock;
        call.ok = !state.fail;
        if (state.fail) throw new Error('EIO');
      };
      return { state, calls, g: new GroupFsync('/wal', fsync, () => state.commits) };
    }

    it('answers at once when nothing has committed since the last fsync, and joins one that covers the caller', async () => {
      const { state, calls, g } = counted(() => 3);
      state.commits = 1;
      await g.sync();
      expect(calls).toHaveLength(1);
      // A read-only request, or a second caller for the same commit (the janitor after the acknowledgement).
      await g.sync();
      expect(calls).toHaveLength(1);
      state.commits = 2;
      const first = g.sync();
      // No commit since that fsync began: it covers this caller too.
      const second = g.sync();
      await Promise.all([first, second]);
      expect(calls).toHaveLength(2);
      // A commit after an fsync began needs the next one.
      state.commits = 3;
      const a = g.sync();
      state.commits = 4;
      const b = g.sync();
      await Promise.all([a, b]);
      expect(calls).toHaveLength(4);
      expect(calls[3]!.covers).toBe(4);
    });

    it('a failed fsync makes nothing durable: the next call fsyncs again', async () => {
      const { state, calls, g } = counted(() => 1);
      state.commits = 1;
      state.fail = true;
      await expect(g.sync()).rejects.toThrow('EIO');
      state.fail = false;
      await g.sync();
      expect(calls).toHaveLength(2);
      expect(calls[1]!.ok).toBe(true);
    });

    it('property: sync() resolves only after a successful fsync that began after every commit made before the call', async () => {
      type Step = { kind: 'commit' } | { kind: 'sync'; wait: number } | { kind: 'fail'; on: boolean };
      const step = fc.oneof(
        fc.constant<Step>({ kind: 'commit' }),
        fc.integer({ min: 0, max: 3 }).map((wait): Step => ({ kind: 'sync', wait })),
        fc.boolean().map((on): Step => ({ kind: 'fail', on })),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 3 }), async (steps, dur) => {
          const { state, calls, g } = counted(() => dur);
          const waits: Promise<void>[] = [];
          for (const s of steps) {
            if (s.kind === 'commit') state.commits++;
            else if (s.kind === 'fail') state.fail = s.on;
            else {
              await new Promise((r) => setTimeout(r, s.wait));
              const needs = state.commits;
              waits.push(
                g.sync().then(
                  () => {
                    const at = ++state.clock;
                    expect(calls.some((c) => c.ok && c.covers >= needs && c.end! < at)).toBe(true);
                  },
                  // A failure may only be reported after an fsync that failed.
                  () => expect(calls.some((c) => c.ok === false)).toBe(true),
                ),
              );
            }
          }
          await Promise.all(waits);
        }),
        { numRuns: 60 },
      );
    });
  });
});
