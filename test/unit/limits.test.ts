/**
 * The rules of limits without HTTP: edition presets and their arithmetic (table-driven and as properties), how explicit
 * figures override an edition, the settings a document may give, durations, and the credit window of the real SQLite
 * store against a model of a rolling window (a property test over random spending and clock moves).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/domain/clock.js';
import { isZohoError } from '../../src/domain/errors.js';
import {
  CREDIT_BUCKETS,
  CREDIT_BUCKET_MS,
  CREDIT_COST,
  EDITIONS,
  HEAVY_OPERATIONS,
  creditBucket,
  editionLimits,
  effectiveLimits,
  limitSettings,
  showsRemainingCredits,
} from '../../src/domain/limits.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe('edition presets (docs/zoho-api.md §10, §6)', () => {
  it.each([
    ['free', 1, 5_000, 5, GiB],
    ['free', 50, 5_000, 5, GiB],
    ['standard', 1, 50_250, 10, GiB + 512 * MiB],
    ['standard', 200, 100_000, 10, GiB + 200 * 512 * MiB],
    ['professional', 10, 55_000, 15, GiB + 10 * 512 * MiB],
    ['professional', 10_000, 3_000_000, 15, GiB + 10_000 * 512 * MiB],
    ['enterprise', 10, 60_000, 20, 11 * GiB],
    ['enterprise', 10_000, 5_000_000, 20, 10_001 * GiB],
    ['ultimate', 1, 52_000, 25, 2 * GiB],
    ['ultimate', 10_000, 20_050_000, 25, 10_001 * GiB],
  ] as const)('%s, %i users: %i credits, concurrency %i, storage %i bytes', (edition, users, credits, concurrency, storage) => {
    expect(editionLimits(edition, users)).toEqual({
      credits,
      concurrency,
      subConcurrency: 10,
      storageBytes: storage,
      recordAttachmentBytes: 100 * MiB,
      tokenLimits: true,
    });
  });

  it('credits never fall as users are added, and never pass the edition\'s cap', () => {
    const caps: Record<string, number> = { free: 5_000, standard: 100_000, professional: 3_000_000, enterprise: 5_000_000 };
    fc.assert(
      fc.property(fc.constantFrom(...EDITIONS), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 0, max: 1000 }), (edition, users, more) => {
        const a = editionLimits(edition, users).credits;
        const b = editionLimits(edition, users + more).credits;
        expect(b).toBeGreaterThanOrEqual(a);
        if (caps[edition] !== undefined) expect(b).toBeLessThanOrEqual(caps[edition]!);
      }),
    );
  });

  it('explicit figures replace the edition\'s one by one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...EDITIONS),
        fc.record({ credits: fc.option(fc.nat()), concurrency: fc.option(fc.integer({ min: 1, max: 100 })), storageBytes: fc.option(fc.nat()) }),
        (edition, figures) => {
          const settings = { edition, users: 5, subConcurrency: null, recordAttachmentBytes: null, tokenLimits: null, ...figures };
          const preset = editionLimits(edition, 5);
          const got = effectiveLimits(settings);
          expect(got.credits).toBe(figures.credits ?? preset.credits);
          expect(got.concurrency).toBe(figures.concurrency ?? preset.concurrency);
          expect(got.storageBytes).toBe(figures.storageBytes ?? preset.storageBytes);
          expect(got.subConcurrency).toBe(preset.subConcurrency);
        },
      ),
    );
  });

  it('without an edition only the figures given apply', () => {
    expect(effectiveLimits({ edition: null, users: null, credits: 5, concurrency: null, subConcurrency: null, storageBytes: null, recordAttachmentBytes: null, tokenLimits: null })).toEqual({
      credits: 5,
      tokenLimits: false,
    });
    expect(effectiveLimits(undefined)).toEqual({ tokenLimits: false });
  });
});

describe('settings from a document', () => {
  it.each([
    [{}, undefined],
    [{ users: 3 }, 'users'],
    [{ credits: -1 }, 'credits'],
    [{ credits: 1.5 }, 'credits'],
    [{ concurrency: 0 }, 'concurrency'],
    [{ edition: 'gold' as never }, 'edition'],
    [{ tokenLimits: false }, undefined],
  ])('refuses %j', (input, field) => {
    try {
      limitSettings('1', input, 0);
      expect.unreachable();
    } catch (err) {
      expect(isZohoError(err) && err.code).toBe('INVALID_DATA');
      if (isZohoError(err) && field) expect(err.details['field']).toBe(field);
    }
  });

  it('keeps what it is given', () => {
    expect(limitSettings('7', { edition: 'free', credits: 0 }, 9)).toMatchObject({ orgId: '7', edition: 'free', users: null, credits: 0, updatedAt: 9 });
  });
});

describe('costs and heavy calls', () => {
  it('every operation costs a credit; uploads and bulk calls are heavy, reads are not', () => {
    expect(new Set(Object.values(CREDIT_COST))).toEqual(new Set([1]));
    for (const op of ['photo.upload', 'attachment.upload', 'attachment.bulkDelete', 'record.insert', 'record.delete'] as const) expect(HEAVY_OPERATIONS.has(op)).toBe(true);
    for (const op of ['photo.download', 'attachment.download', 'attachment.list', 'org.get'] as const) expect(HEAVY_OPERATIONS.has(op)).toBe(false);
  });

  it('X-API-CREDITS-REMAINING shows once at least half is used', () => {
    expect(showsRemainingCredits(10, 6)).toBe(false);
    expect(showsRemainingCredits(10, 5)).toBe(true);
    expect(showsRemainingCredits(7, 4)).toBe(false);
    expect(showsRemainingCredits(7, 3)).toBe(true);
    expect(showsRemainingCredits(0, 0)).toBe(true);
  });
});

describe('durations', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['25h', 90_000_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '-5m', '5 m', 'm', '1h 30m', '1w'])('%j is no duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('any sum of parts reads back as its milliseconds', () => {
    const unit = fc.constantFrom(['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), unit), { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
        expect(parseDuration(text)).toBe(parts.reduce((sum, [n, [, ms]]) => sum + n * (ms as number), 0));
      }),
    );
  });
});

describe('the credit window of the store, against a model of a rolling window', () => {
  let dir: string;
  let store: MetadataStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-credits-'));
    store = await openSqliteStore({ file: join(dir, 'm.sqlite') });
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('spends exactly when the model has room, and reports the model\'s total', async () => {
    let orgSeq = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.oneof(fc.record({ advanceMs: fc.integer({ min: 0, max: 6 * CREDIT_BUCKET_MS }) }), fc.record({ cost: fc.integer({ min: 1, max: 5 }) })), { maxLength: 60 }),
        async (limit, steps) => {
          const orgId = `model-${orgSeq++}`;
          let now = 1_700_000_000_000;
          // The model: what was spent in which bucket; a bucket counts while it is one of the last CREDIT_BUCKETS.
          const spent: { bucket: number; cost: number }[] = [];
          const live = () => spent.filter((s) => s.bucket > creditBucket(now) - CREDIT_BUCKETS).reduce((n, s) => n + s.cost, 0);
          for (const step of steps) {
            if ('advanceMs' in step) {
              now += step.advanceMs;
              expect(await store.limits.creditsUsed(orgId, creditBucket(now))).toBe(live());
              continue;
            }
            const room = live() + step.cost <= limit;
            const got = await store.limits.spendCredits(orgId, step.cost, limit, creditBucket(now));
            if (room) spent.push({ bucket: creditBucket(now), cost: step.cost });
            expect(got).toEqual({ spent: room, used: live() });
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
