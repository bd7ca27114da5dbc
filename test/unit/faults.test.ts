/**
 * Fault rules without HTTP: which rules a document may give, what a rule matches, and which rules fire on a request
 * (the engine over the real SQLite store, with a chosen random sequence and clock).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isZohoError } from '../../src/domain/errors.js';
import { FaultEngine, type FaultMatch, type FaultRuleInput, type FaultTarget, faultMatches, faultRule, operationMatches } from '../../src/domain/faults.js';
import { silentLogger } from '../../src/domain/ports/logger.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';

const T0 = 1_800_000_000_000;

describe('rules a document may give', () => {
  it.each<[FaultRuleInput, string]>([
    [{ action: {} }, 'action'],
    [{ action: { delayMs: 5, reset: 'before_headers' } }, 'action'],
    [{ action: { delayMs: -1 } }, 'action.delay_ms'],
    [{ action: { delayMs: [10, 5] } }, 'action.delay_ms'],
    [{ action: { delayMs: 11 * 60_000 } }, 'action.delay_ms'],
    [{ action: { error: 'ADMIN_UNAUTHORIZED' } }, 'action.error'],
    [{ action: { reset: 'sometimes' } }, 'action.reset'],
    [{ action: { truncateAfterBytes: -1 } }, 'action.truncate_after_bytes'],
    [{ action: { throttleBytesPerSecond: 0 } }, 'action.throttle_bytes_per_second'],
    [{ action: { tokenError: 'Access Denied' } }, 'action.token_error'],
    [{ match: { operation: 'token' }, action: { tokenError: '\n' } }, 'action.token_error'],
    [{ match: { operation: 'nope.*' }, action: { delayMs: 1 } }, 'match.operation'],
    [{ action: { delayMs: 1 }, probability: 1.5 }, 'probability'],
    [{ action: { delayMs: 1 }, times: 0 }, 'times'],
    [{ action: { delayMs: 1 }, until: 'later' }, 'until'],
    [{ id: 'has space', action: { delayMs: 1 } }, 'id'],
  ])('refuses %j', (input, field) => {
    try {
      faultRule(input, T0);
      expect.unreachable();
    } catch (err) {
      expect(isZohoError(err) && { code: err.code, field: err.details['field'] }).toEqual({ code: 'INVALID_DATA', field });
    }
  });

  it('keeps what it is given, with defaults for the rest', () => {
    expect(faultRule({ match: { operation: 'token', client: 'c', method: 'post' }, action: { tokenError: 'Access Denied' }, times: 2, until: '2030-01-01T00:00:00Z' }, T0)).toMatchObject({
      match: { operation: 'token', method: 'POST', module: null, orgId: null, userId: null, tokenId: null, clientId: 'c' },
      action: { kind: 'token_error', error: 'Access Denied' },
      probability: null,
      remaining: 2,
      until: Date.parse('2030-01-01T00:00:00Z'),
      fired: 0,
      createdAt: T0,
    });
    expect(faultRule({ match: { operation: '*' }, action: { delayMs: [1, 9] } }, T0).match.operation).toBeNull();
  });
});

describe('what a rule matches', () => {
  it.each([
    [null, 'photo.upload', true],
    ['photo.upload', 'photo.upload', true],
    ['photo.upload', 'photo.download', false],
    ['photo.*', 'photo.delete', true],
    ['photo.*', 'attachment.upload', false],
    ['token.*', 'token.revoke', true],
    ['token', 'token.revoke', false],
  ])('%s against %s: %s', (pattern, op, expected) => {
    expect(operationMatches(pattern, op)).toBe(expected);
  });

  it('every criterion given must hold; absent ones match anything', () => {
    const any: FaultMatch = { operation: null, method: null, module: null, orgId: null, userId: null, tokenId: null, clientId: null };
    const target: FaultTarget = { operation: 'photo.upload', method: 'POST', module: 'LEADS', orgId: 'o', userId: 'u', tokenId: 't', clientId: 'c' };
    fc.assert(
      fc.property(fc.subarray(['method', 'module', 'orgId', 'userId', 'tokenId', 'clientId'] as const), fc.boolean(), (fields, spoil) => {
        const match: FaultMatch = { ...any };
        const values: Record<string, string> = { method: 'POST', module: 'leads', orgId: 'o', userId: 'u', tokenId: 't', clientId: 'c' };
        for (const f of fields) match[f] = values[f]!;
        if (spoil && fields.length > 0) match[fields[0]!] = 'other';
        expect(faultMatches(match, target, undefined)).toBe(!(spoil && fields.length > 0));
      }),
    );
    // The org and user may come from the target's owner (the token endpoint's client).
    expect(faultMatches({ ...any, userId: 'u' }, { operation: 'token', method: 'POST' }, { orgId: 'o', userId: 'u' })).toBe(true);
    expect(faultMatches({ ...any, userId: 'u' }, { operation: 'token', method: 'POST' }, undefined)).toBe(false);
  });
});

describe('which rules fire (engine over the SQLite store)', () => {
  let dir: string;
  let store: MetadataStore;
  let now = T0;
  let randoms: number[] = [];
  let engine: FaultEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-faults-'));
    store = await openSqliteStore({ file: join(dir, 'm.sqlite') });
    engine = new FaultEngine(store.faults, { now: () => now, random: () => randoms.shift() ?? 0.5, log: silentLogger });
  });
  afterEach(async () => {
    await store.faults.deleteAll();
    await engine.refresh();
    randoms = [];
    now = T0;
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const add = async (input: FaultRuleInput) => {
    const rule = faultRule(input, now++);
    await store.faults.insert(rule);
    await engine.refresh();
    return rule;
  };
  const upload: FaultTarget = { operation: 'photo.upload', method: 'POST', module: 'Leads', orgId: 'o', userId: 'u' };

  it('nothing set: no plan, and no query', async () => {
    expect(engine.active).toBe(false);
    expect(await engine.plan(upload)).toBeUndefined();
  });

  it('a rule for N matches fires exactly N times, however many requests come', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 20 }), async (times, requests) => {
        await store.faults.deleteAll();
        await add({ match: { operation: 'photo.upload' }, action: { error: 'INTERNAL_ERROR' }, times });
        let fired = 0;
        for (let i = 0; i < requests; i++) if (await engine.plan(upload)) fired++;
        expect(fired).toBe(Math.min(times, requests));
        expect((await store.faults.list())[0]).toMatchObject({ fired: Math.min(times, requests), remaining: times - Math.min(times, requests) });
      }),
      { numRuns: 25 },
    );
  });

  it('a probability compares with the random draw; a delay range draws its length', async () => {
    await add({ match: { operation: 'photo.upload' }, action: { delayMs: [100, 200] }, probability: 0.3 });
    randoms = [0.31];
    expect(await engine.plan(upload)).toBeUndefined();
    randoms = [0.29, 0.5];
    expect(await engine.plan(upload)).toMatchObject({ delayMs: 150, marks: ['fault:delay(150ms)'] });
    randoms = [0, 0.9999];
    expect((await engine.plan(upload))?.delayMs).toBe(200);
  });

  it('until a time of the (movable) clock', async () => {
    await add({ match: { operation: 'photo.upload' }, action: { error: 'INTERNAL_ERROR' }, until: T0 + 1000 });
    expect(await engine.plan(upload)).toBeDefined();
    now = T0 + 1000;
    expect(await engine.plan(upload)).toBeUndefined();
  });

  it('delays add up, the first outcome wins, and a rule that would not apply is not counted', async () => {
    await add({ action: { delayMs: 10 } });
    const first = await add({ action: { truncateAfterBytes: 7 } });
    await add({ action: { delayMs: 5 } });
    const second = await add({ action: { error: 'INTERNAL_ERROR' }, times: 1 });
    const plan = await engine.plan(upload);
    expect(plan).toMatchObject({ delayMs: 15, outcome: { kind: 'truncate', afterBytes: 7 }, marks: ['fault:delay(10ms)', 'fault:truncate(7B)', 'fault:delay(5ms)'] });
    expect(plan?.ruleIds).not.toContain(second.id);
    expect((await store.faults.list()).find((r) => r.id === second.id)?.remaining).toBe(1);
    expect(plan?.ruleIds).toContain(first.id);
  });

  it('asks for the owner of a token-endpoint request only when a rule needs the org or user', async () => {
    let asked = 0;
    const target: FaultTarget = {
      operation: 'token',
      method: 'POST',
      clientId: 'c',
      owner: async () => {
        asked++;
        return { orgId: 'o', userId: 'u' };
      },
    };
    await add({ match: { operation: 'token', client: 'c' }, action: { tokenError: 'Access Denied' } });
    expect((await engine.plan(target))?.outcome).toEqual({ kind: 'token_error', error: 'Access Denied' });
    expect(asked).toBe(0);
    await store.faults.deleteAll();
    await add({ match: { operation: 'token', user: 'u' }, action: { delayMs: 1 } });
    await add({ match: { operation: 'token', org: 'o' }, action: { delayMs: 1 } });
    expect((await engine.plan(target))?.delayMs).toBe(2);
    expect(asked).toBe(1);
  });

  it('a rule deleted meanwhile does not fire; the copy learns of it at the next refresh', async () => {
    const rule = await add({ action: { error: 'INTERNAL_ERROR' } });
    await store.faults.delete(rule.id);
    expect(await engine.plan(upload)).toBeUndefined();
    await engine.refresh();
    expect(engine.active).toBe(false);
  });
});
