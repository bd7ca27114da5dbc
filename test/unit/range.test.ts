/**
 * The download range parser (src/server/range.ts, docs/compatibility.md "Both downloads"): one `bytes=a-b` /
 * `a-` / `-n` range → partial within bounds, or unsatisfiable exactly when it starts at or past the end (a suffix:
 * when n = 0 or the body is empty); several ranges or a malformed header → the whole body; never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RangeOutcome, etagMatches, parseRange } from '../../src/server/range.js';

const SIZE = fc.integer({ min: 0, max: 2 ** 40 });
const POS = fc.integer({ min: 0, max: 2 ** 41 });

function expectWithin(outcome: RangeOutcome, size: number): void {
  if (outcome.kind !== 'partial') return;
  const { start, end } = outcome.range;
  expect(Number.isSafeInteger(start) && Number.isSafeInteger(end)).toBe(true);
  expect(0 <= start && start <= end && end < size).toBe(true);
}

describe('parseRange: properties', () => {
  it('bytes=a-b (a <= b): partial [a, min(b, size-1)], or unsatisfiable exactly when a >= size', () => {
    fc.assert(
      fc.property(SIZE, POS, fc.nat({ max: 2 ** 41 }), (size, start, len) => {
        const end = start + len;
        const outcome = parseRange(`bytes=${start}-${end}`, size);
        if (start >= size) {
          expect(outcome).toEqual({ kind: 'unsatisfiable' });
        } else {
          expect(outcome).toEqual({ kind: 'partial', range: { start, end: Math.min(end, size - 1) } });
        }
        expectWithin(outcome, size);
      }),
      { numRuns: 2000 },
    );
  });

  it('bytes=a- : partial [a, size-1], or unsatisfiable exactly when a >= size', () => {
    fc.assert(
      fc.property(SIZE, POS, (size, start) => {
        const outcome = parseRange(`bytes=${start}-`, size);
        if (start >= size) {
          expect(outcome).toEqual({ kind: 'unsatisfiable' });
        } else {
          expect(outcome).toEqual({ kind: 'partial', range: { start, end: size - 1 } });
        }
        expectWithin(outcome, size);
      }),
      { numRuns: 2000 },
    );
  });

  it('bytes=a- with a >= size, small sizes included (start exactly at the end)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (size, extra) => {
        expect(parseRange(`bytes=${size + extra}-`, size)).toEqual({ kind: 'unsatisfiable' });
      }),
    );
  });

  it('bytes=-n : the last min(n, size) bytes, or unsatisfiable exactly when n == 0 or size == 0', () => {
    fc.assert(
      fc.property(SIZE, POS, (size, n) => {
        const outcome = parseRange(`bytes=-${n}`, size);
        if (n === 0 || size === 0) {
          expect(outcome).toEqual({ kind: 'unsatisfiable' });
        } else {
          expect(outcome).toEqual({ kind: 'partial', range: { start: Math.max(0, size - n), end: size - 1 } });
        }
        expectWithin(outcome, size);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary strings; any partial answer is within bounds', () => {
    const header = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string().map((s) => `bytes=${s}`),
      fc.tuple(fc.string(), fc.string()).map(([a, b]) => `bytes=${a}-${b}`),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 2, maxLength: 5 }).map((rs) => `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(',')}`),
      fc.bigInt({ min: 0n, max: 10n ** 30n }).map((n) => `bytes=${n}-${n * 2n}`),
    );
    fc.assert(
      fc.property(header, SIZE, (h, size) => {
        const outcome = parseRange(h, size);
        expect(['whole', 'partial', 'unsatisfiable']).toContain(outcome.kind);
        expectWithin(outcome, size);
      }),
      { numRuns: 1000 },
    );
  });

  it('several ranges are ignored (whole)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.nat(1000)), { minLength: 2, maxLength: 5 }), SIZE, (rs, size) => {
        const h = `bytes=${rs.map(([a, l]) => `${a}-${a + l}`).join(',')}`;
        expect(parseRange(h, size)).toEqual({ kind: 'whole' });
      }),
    );
  });
});

describe('parseRange: examples', () => {
  it.each([
    [undefined, 100, { kind: 'whole' }],
    ['bytes=0-9', 100, { kind: 'partial', range: { start: 0, end: 9 } }],
    ['bytes=10-', 100, { kind: 'partial', range: { start: 10, end: 99 } }],
    ['bytes=-5', 100, { kind: 'partial', range: { start: 95, end: 99 } }],
    ['bytes=5-5', 100, { kind: 'partial', range: { start: 5, end: 5 } }],
    ['bytes=0-1000', 100, { kind: 'partial', range: { start: 0, end: 99 } }],
    ['bytes=-1000', 100, { kind: 'partial', range: { start: 0, end: 99 } }],
    ['BYTES = 1 - 2', 100, { kind: 'partial', range: { start: 1, end: 2 } }],
    ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=0-1,3-4', 100, { kind: 'whole' }],
    ['bytes=9-2', 100, { kind: 'whole' }],
    ['bytes=', 100, { kind: 'whole' }],
    ['bytes=-', 100, { kind: 'whole' }],
    ['bytes=abc', 100, { kind: 'whole' }],
    ['items=0-5', 100, { kind: 'whole' }],
    ['0-5', 100, { kind: 'whole' }],
    ['bytes=1.5-3', 100, { kind: 'whole' }],
    ['bytes=99999999999999999999-', 100, { kind: 'whole' }],
    ['bytes=-99999999999999999999', 100, { kind: 'whole' }],
  ] as const)('%j of %d bytes → %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('etagMatches', () => {
  const tag = '"abc"';
  it.each([
    [undefined, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['"x","abc" , "y"', true],
    ['*', true],
    ['"abcd"', false],
    ['abc', false],
    ['', false],
  ] as const)('If-None-Match %j → %s', (header, expected) => {
    expect(etagMatches(header, tag)).toBe(expected);
  });

  it('never throws', () => {
    fc.assert(fc.property(fc.string(), (h) => typeof etagMatches(h, tag) === 'boolean'));
  });
});
