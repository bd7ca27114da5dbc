import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RequestEntry, RequestJournal, redactedQuery, requestIdGenerator } from '../../src/server/request-journal.js';

function entry(journal: RequestJournal, over: Partial<RequestEntry> = {}): RequestEntry {
  return {
    seq: journal.nextSeq(),
    id: 'x',
    time: 1_000,
    method: 'GET',
    path: '/crm/v8/Leads/1/photo',
    query: '',
    operation: 'photo.download',
    orgId: '1',
    userId: '2',
    clientId: null,
    recordId: '1',
    status: 200,
    code: null,
    latencyMs: 1,
    bytesIn: 0,
    bytesOut: 10,
    marks: [],
    ...over,
  };
}

describe('redactedQuery', () => {
  it.each([
    ['/p', ''],
    ['/p?', ''],
    ['/p?fields=File_Name,Size&page=2', 'fields=File_Name,Size&page=2'],
    ['/p?access_token=1000.abc&fields=x', 'access_token=REDACTED&fields=x'],
    ['/p?code=abc&client_secret=s&client_id=1000.X&refresh_token=r', 'code=REDACTED&client_secret=REDACTED&client_id=1000.X&refresh_token=REDACTED'],
    ['/p?attachmentUrl=https%3A%2F%2Fx.test%2F%3Fsig%3Dsecret', 'attachmentUrl=REDACTED'],
    ['/p?flag&ids=1,2', 'flag&ids=1,2'],
    ['/p?%66ields=x', '%66ields=x'],
  ])('%s → %s', (url, expected) => {
    expect(redactedQuery(url)).toBe(expected);
  });

  it('property: no value of a parameter outside the harmless list survives, whatever the encoding', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9._~-]{8,40}$/).map((s) => `S3CR3T${s}`);
    const name = fc.constantFrom('access_token', 'token', 'code', 'client_secret', 'refresh_token', 'x', 'Authorization', 'attachmentUrl', 'title');
    fc.assert(
      fc.property(fc.array(fc.tuple(name, secret), { minLength: 1, maxLength: 6 }), (pairs) => {
        const url = `/crm/v8/Leads?${pairs.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&')}`;
        expect(redactedQuery(url)).not.toContain('S3CR3T');
      }),
    );
  });

  it('property: never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void redactedQuery(`/p?${s}`)));
  });
});

describe('requestIdGenerator', () => {
  it('gives distinct 16-hex-character ids', () => {
    const next = requestIdGenerator();
    const ids = new Set(Array.from({ length: 1000 }, () => next()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('RequestJournal', () => {
  it('keeps the newest entries up to its capacity, lists newest first, filters and counts', () => {
    const j = new RequestJournal(3);
    for (const [op, status] of [['photo.upload', 200], ['photo.download', 200], ['photo.upload', 400], ['photo.upload', 200]] as const) {
      j.add(entry(j, { operation: op, status }));
    }
    expect(j.list({}).map((e) => e.seq)).toEqual([4, 3, 2]);
    expect(j.count({ operation: 'photo.upload' })).toBe(2);
    expect(j.count({ operation: 'photo.upload', status: 200 })).toBe(1);
    expect(j.list({}, 1).map((e) => e.seq)).toEqual([4]);
    expect(j.count({ afterSeq: 3 })).toBe(1);
    j.clear();
    expect(j.list({})).toEqual([]);
    j.add(entry(j));
    expect(j.list({}).map((e) => e.seq)).toEqual([5]);
  });

  it('property: holds exactly the last min(n, capacity) entries, in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 60 }), (capacity, n) => {
        const j = new RequestJournal(capacity);
        for (let i = 0; i < n; i++) j.add(entry(j));
        const seqs = j.list({}, 1000).map((e) => e.seq);
        const expected = Array.from({ length: Math.min(n, capacity) }, (_, i) => n - i);
        expect(seqs).toEqual(expected);
      }),
    );
  });

  it('a wait returns once enough matching entries arrived, or with what there is at its timeout', async () => {
    const j = new RequestJournal(10);
    const waited = j.waitFor({ operation: 'photo.upload' }, 2, 5_000);
    j.add(entry(j, { operation: 'photo.upload' }));
    j.add(entry(j, { operation: 'photo.download' }));
    j.add(entry(j, { operation: 'photo.upload' }));
    expect(await waited).toBe(2);
    expect(await j.waitFor({ operation: 'photo.delete' }, 1, 20)).toBe(0);
  });

  it('with capacity 0 keeps nothing and never waits', async () => {
    const j = new RequestJournal(0);
    j.add(entry(j));
    expect(j.list({})).toEqual([]);
    expect(await j.waitFor({}, 1, 60_000)).toBe(0);
  });
});
