import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isZohoId, newZohoId } from '../../src/domain/ids.js';
import { formatZohoTime, utcOffsetMinutes } from '../../src/domain/time.js';

describe('Zoho times', () => {
  it.each([
    [Date.UTC(2021, 4, 3, 12, 33, 0), 'Asia/Kolkata', '2021-05-03T18:03:00+05:30'],
    [Date.UTC(2021, 4, 3, 12, 33, 0, 999), 'UTC', '2021-05-03T12:33:00+00:00'],
    [Date.UTC(2024, 0, 15, 12, 0, 0), 'America/New_York', '2024-01-15T07:00:00-05:00'],
    [Date.UTC(2024, 6, 15, 12, 0, 0), 'America/New_York', '2024-07-15T08:00:00-04:00'],
    [Date.UTC(2024, 6, 15, 12, 0, 0), 'Asia/Kathmandu', '2024-07-15T17:45:00+05:45'],
  ])('%d in %s is %s', (ms, tz, expected) => {
    expect(formatZohoTime(ms, tz)).toBe(expected);
  });

  it('property: the rendered local time minus its offset is the instant (to the second)', () => {
    const zones = ['UTC', 'Asia/Kolkata', 'America/New_York', 'Europe/Berlin', 'Australia/Adelaide', 'Pacific/Chatham'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(...zones), (ms, tz) => {
        const s = formatZohoTime(ms, tz);
        expect(s).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
        expect(Date.parse(s)).toBe(Math.floor(ms / 1000) * 1000);
        expect(Math.abs(utcOffsetMinutes(ms, tz))).toBeLessThanOrEqual(14 * 60);
      }),
    );
  });
});

describe('Zoho ids', () => {
  it('new ids are 19-digit strings within a signed 64-bit integer, and unique', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newZohoId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) {
      expect(id).toMatch(/^[1-9]\d{18}$/);
      expect(BigInt(id) <= 9223372036854775807n).toBe(true);
      expect(isZohoId(id)).toBe(true);
    }
  });

  it.each(['', 'abc', '12a', '-1', '1.5', ' 1', '9223372036854775808', '12345678901234567890'])('%j is not an id', (s) => {
    expect(isZohoId(s)).toBe(false);
  });

  it('property: digit strings up to 19 digits are ids exactly when they fit a long', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,19}$/), (s) => {
        expect(isZohoId(s)).toBe(BigInt(s) <= 9223372036854775807n);
      }),
    );
  });
});
