/**
 * A read from the store that a change made through this process overtakes must not undo the change: a token revoked
 * here stays revoked, limits and fault rules set here apply at once, a clock moved here stays moved. Each case holds
 * one real read of the SQLite store (it has read; its answer waits) while the change is made, then lets it go.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/domain/authentication.js';
import { MovableClock } from '../../src/domain/clock.js';
import { isZohoError } from '../../src/domain/errors.js';
import { FaultEngine, faultRule } from '../../src/domain/faults.js';
import { newZohoId } from '../../src/domain/ids.js';
import { LimitsLookup } from '../../src/domain/limits-lookup.js';
import { NO_LIMITS, effectiveLimits } from '../../src/domain/limits.js';
import { silentLogger } from '../../src/domain/ports/logger.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { hashToken } from '../../src/domain/tokens.js';
import { TtlCache } from '../../src/domain/ttl-cache.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';

const T0 = 1_700_000_000_000;

/**
 * Wraps `read` so that each call reads at once but hands its answer over only when `release()` is called; calls made
 * after the release pass straight through. `calls` counts every read.
 */
function held<A extends unknown[], R>(read: (...args: A) => Promise<R>) {
  let open = false;
  let releaseAll!: () => void;
  const released = new Promise<void>((resolve) => (releaseAll = resolve));
  const gate = {
    calls: 0,
    read: async (...args: A): Promise<R> => {
      gate.calls++;
      const answer = await read(...args);
      if (!open) await released;
      return answer;
    },
    release() {
      open = true;
      releaseAll();
    },
  };
  return gate;
}

/** `port` with some methods replaced; the others stay the store's own (on its prototype). */
function overriding<T extends object>(port: T, methods: Partial<T>): T {
  return Object.assign(Object.create(port) as T, methods);
}

describe('TtlCache', () => {
  it('drops a value read before a clear; keeps one read after', async () => {
    const cache = new TtlCache<string, number>(1000, 10, () => T0);
    let readDone!: (v: number) => void;
    const slow = cache.load('k', () => new Promise<number>((resolve) => (readDone = resolve)));
    cache.clear();
    readDone(1);
    expect(await slow).toBe(1);
    expect(cache.get('k')).toBeUndefined();
    expect(await cache.load('k', async () => 2)).toBe(2);
    expect(cache.get('k')).toBe(2);
  });
});

describe('reads overtaken by a change made through this process (SQLite store)', () => {
  let dir: string;
  let store: MetadataStore;
  let orgId: string;
  let userId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crm-media-stale-'));
    store = await openSqliteStore({ file: join(dir, 'm.sqlite') });
    orgId = newZohoId();
    await store.directory.insertOrg({ id: orgId, name: 'Stale reads', timeZone: 'UTC', createdAt: T0 });
    const profileId = newZohoId();
    await store.directory.insertProfile({ id: profileId, orgId, name: 'Administrator', isAdmin: true, permissions: {}, createdAt: T0 });
    userId = newZohoId();
    await store.directory.insertUser({ id: userId, orgId, profileId, name: 'Ada', email: 'ada@example.test', status: 'active', createdAt: T0 });
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a token revoked while its lookup was under way is refused from then on', async () => {
    const value = `1000.${newZohoId()}.stale`;
    const id = newZohoId();
    await store.tokens.insert({ id, orgId, userId, tokenHash: hashToken(value), scopes: 'ZohoCRM.modules.ALL', label: null, expiresAt: null, revokedAt: null, createdAt: T0, clientId: null, refreshTokenId: null });
    const gate = held(store.tokens.findPrincipal.bind(store.tokens));
    const auth = new Authenticator({ findPrincipal: gate.read }, { cacheTtlMs: 60_000, maxEntries: 100, now: () => T0 });
    const inFlight = auth.principalFor(value);
    await waitUntil(() => gate.calls === 1);
    expect(await store.tokens.revoke(orgId, id, T0)).toBe(true);
    auth.invalidate();
    gate.release();
    // The lookup that began before the revocation may answer with what it read...
    expect((await inFlight).user.id).toBe(userId);
    // ...but must not leave it cached: the next request reads the store and is refused.
    const next = await auth.principalFor(value).then(
      () => 'accepted',
      (err: unknown) => (isZohoError(err) ? err.entry : String(err)),
    );
    expect(next).toBe('INVALID_TOKEN');
    expect(gate.calls).toBe(2);
  });

  it('limits set while a lookup of the old ones was under way apply at once', async () => {
    await store.limits.deleteSettings(orgId);
    const gate = held(store.limits.getSettings.bind(store.limits));
    const limits = new LimitsLookup({ limits: overriding(store.limits, { getSettings: gate.read }) }, NO_LIMITS, { ttlMs: 60_000, maxEntries: 100, now: () => T0 });
    const inFlight = limits.effective(orgId);
    await waitUntil(() => gate.calls === 1);
    const settings = { orgId, edition: null, users: null, credits: 7, concurrency: null, subConcurrency: null, storageBytes: null, recordAttachmentBytes: null, tokenLimits: null, updatedAt: T0 };
    await store.limits.putSettings(settings);
    limits.invalidate();
    gate.release();
    expect(await inFlight).toEqual(NO_LIMITS);
    expect(await limits.effective(orgId)).toEqual(effectiveLimits(settings));
  });

  it('a refresh asked for while a load was under way sees the rule added meanwhile; a burst costs two loads', async () => {
    await store.faults.deleteAll();
    const gate = held(store.faults.list.bind(store.faults));
    const engine = new FaultEngine(overriding(store.faults, { list: gate.read }), { now: () => T0, log: silentLogger });
    const polled = engine.refresh();
    await waitUntil(() => gate.calls === 1);
    await store.faults.insert(faultRule({ id: 'added', action: { error: 'INTERNAL_ERROR' } }, T0));
    const asked = [engine.refresh(), engine.refresh(), engine.refresh()];
    gate.release();
    await polled;
    await Promise.all(asked);
    expect(engine.snapshot.map((r) => r.id)).toEqual(['added']);
    expect(gate.calls).toBe(2);
    await store.faults.deleteAll();
  });

  it('a clock moved while a reread of its offset was under way stays moved', async () => {
    await store.clock.reset();
    const gate = held(store.clock.offset.bind(store.clock));
    const clock = new MovableClock(overriding(store.clock, { offset: gate.read }), () => T0);
    const reread = clock.refresh();
    await waitUntil(() => gate.calls === 1);
    await clock.advance(60_000);
    gate.release();
    await reread;
    expect(clock.offset).toBe(60_000);
    expect(clock.now()).toBe(T0 + 60_000);
    await clock.refresh();
    expect(clock.offset).toBe(60_000);
    await store.clock.reset();
  });
});

/** Waits (a bounded number of turns of the event loop) until `done()`. */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}
