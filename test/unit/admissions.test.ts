/**
 * Admission under an org's limits over the real SQLite store: concurrency, credits and the order in which they refuse,
 * and leases: whatever an instance was doing when it died, a live instance frees every slot it held, never fewer (a
 * property over random sequences of calls starting and ending).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/domain/access.js';
import { type Admission, Admissions, LEASE_MS, MAX_SPARE_SLOTS } from '../../src/domain/admissions.js';
import { CreditReserves, MAX_CREDIT_CHUNK } from '../../src/domain/credit-reserves.js';
import { NO_LIMITS } from '../../src/domain/limits.js';
import { LimitsLookup } from '../../src/domain/limits-lookup.js';
import { silentLogger } from '../../src/domain/ports/logger.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';

let dir: string;
let store: MetadataStore;
let realNow = 1_800_000_000_000;
let seq = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-media-admissions-'));
  store = await openSqliteStore({ file: join(dir, 'm.sqlite') });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function principal(orgId: string, userId = 'u1', clientId: string | null = null): Principal {
  return { org: { id: orgId }, user: { id: userId }, clientId } as unknown as Principal;
}

async function org(limits: { credits?: number; concurrency?: number; subConcurrency?: number }): Promise<string> {
  const orgId = `o${seq++}`;
  await store.directory.insertOrg({ id: orgId, name: orgId, timeZone: 'UTC', createdAt: 0 });
  await store.limits.putSettings({ orgId, edition: null, users: null, credits: null, concurrency: null, subConcurrency: null, storageBytes: null, recordAttachmentBytes: null, tokenLimits: null, updatedAt: 0, ...limits });
  return orgId;
}

function instance(id = `i${seq++}`): Admissions {
  const lookup = new LimitsLookup(store, NO_LIMITS, { ttlMs: 0, maxEntries: 10, now: () => realNow });
  return new Admissions({ store, limits: lookup, now: () => realNow, realNow: () => realNow, instanceId: id, log: silentLogger });
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('admission', () => {
  it('concurrency first, then sub-concurrency for heavy calls, then credits; a refusal takes nothing', async () => {
    const orgId = await org({ concurrency: 2, subConcurrency: 1, credits: 3 });
    const a = instance();
    const first = await a.admit(principal(orgId), 'photo.upload');
    expect(first.admitted).toBe(true);
    const heavy = await a.admit(principal(orgId), 'attachment.upload');
    expect(heavy).toMatchObject({ admitted: false, mark: 'limit:sub-concurrency', error: { code: 'TOO_MANY_REQUESTS', status: 429 } });
    const light = await a.admit(principal(orgId), 'photo.download');
    expect(light.admitted).toBe(true);
    expect(await a.admit(principal(orgId), 'org.get')).toMatchObject({ admitted: false, mark: 'limit:concurrency' });
    // Other users and other clients have their own slots; the org's credits are shared.
    const other = await a.admit(principal(orgId, 'u2'), 'org.get');
    expect(other).toMatchObject({ admitted: true, admission: { creditsRemaining: 0 } });
    expect(await a.admit(principal(orgId, 'u1', 'client'), 'org.get')).toMatchObject({ admitted: false, mark: 'limit:credits', creditsRemaining: 0 });
    for (const r of [first, light, other]) if (r.admitted) r.admission.release();
    await settle();
    expect(await store.limits.slotsInUse(`${orgId}|`)).toEqual({});
  });

  it('gives a slot back once, however often released', async () => {
    const orgId = await org({ concurrency: 1 });
    const a = instance();
    const r = await a.admit(principal(orgId), 'org.get');
    if (!r.admitted) throw new Error('refused');
    r.admission.release();
    r.admission.release();
    await settle();
    const again = await a.admit(principal(orgId), 'org.get');
    expect(again.admitted).toBe(true);
    expect(await store.limits.slotsInUse(`${orgId}|`)).toEqual({ [`${orgId}|u1|-|all`]: 1 });
  });

  it('an org without limits costs no statement and holds nothing', async () => {
    const a = instance();
    const r = await a.admit(principal('no-limits'), 'photo.upload');
    expect(r).toMatchObject({ admitted: true, admission: { creditsRemaining: undefined } });
    expect(a.holdings()).toEqual({});
  });
});

describe('keeping a little ahead', () => {
  it('credits go in chunks: a busy org costs a statement per chunk, and the limit is never passed', async () => {
    const orgId = await org({ credits: 100_000 });
    const a = instance();
    let admitted = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await a.admit(principal(orgId), 'photo.download');
      if (r.admitted) {
        admitted++;
        r.admission.release();
      }
    }
    expect(admitted).toBe(1000);
    const used = await store.limits.creditsUsed(orgId, Math.floor(realNow / 3_600_000));
    // Whole chunks were taken: the window counts at most one chunk more than the calls made.
    expect(used - 1000).toBeGreaterThanOrEqual(0);
    expect(used - 1000).toBeLessThan(MAX_CREDIT_CHUNK);
    expect(a.unusedCredits(orgId)).toBe(used - 1000);
  });

  it('calls arriving together on two instances under a small limit: exactly the limit admitted, no credit stranded', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 31 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }), async (limit, turns) => {
        const orgId = `t${seq++}`;
        const [x, y] = [new CreditReserves(store), new CreditReserves(store)];
        // Many callers share one refill; the last of them to give up on refills must still see what it left.
        const results = await Promise.all(turns.map((useX) => (useX ? x : y).spend(orgId, 1, limit, 5)));
        const admitted = results.filter((r) => r.spent).length;
        expect(admitted).toBe(Math.min(limit, turns.length));
        expect(x.unused(orgId, 5) + y.unused(orgId, 5)).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('two instances spending one window: never past the limit, and short of it by at most their unused chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 400 }), async (limit, turns) => {
        const orgId = `w${seq++}`;
        const bucket = 9;
        const [x, y] = [new CreditReserves(store), new CreditReserves(store)];
        let admitted = 0;
        for (const useX of turns) if ((await (useX ? x : y).spend(orgId, 1, limit, bucket)).spent) admitted++;
        // Everyone keeps spending until refused: the window is then full.
        for (let i = 0; i < 2 * limit + 10; i++) {
          const [rx, ry] = [await x.spend(orgId, 1, limit, bucket), await y.spend(orgId, 1, limit, bucket)];
          admitted += Number(rx.spent) + Number(ry.spent);
          if (!rx.spent && !ry.spent) break;
        }
        const unused = x.unused(orgId, bucket) + y.unused(orgId, bucket);
        expect(await store.limits.creditsUsed(orgId, bucket)).toBe(limit);
        expect(admitted + unused).toBe(limit);
        expect(unused).toBeLessThanOrEqual(2 * Math.max(1, Math.min(MAX_CREDIT_CHUNK, Math.floor(limit / 16))));
        if (limit < 32) expect(admitted).toBe(limit);
      }),
      { numRuns: 40 },
    );
  });

  it('slots given back are kept spare under a large limit, none under a small one, and go back after an idle poll', async () => {
    const large = await org({ concurrency: 64 });
    const small = await org({ concurrency: 7 });
    const a = instance();
    for (const orgId of [large, small]) {
      const open: Admission[] = [];
      for (let i = 0; i < 12 && open.length < 7; i++) {
        const r = await a.admit(principal(orgId), 'org.get');
        if (r.admitted) open.push(r.admission);
      }
      for (const x of open) x.release();
    }
    await settle();
    expect(await store.limits.slotsInUse(`${large}|`)).toEqual({ [`${large}|u1|-|all`]: Math.min(7, MAX_SPARE_SLOTS) });
    expect(a.spareSlots()).toEqual({ [`${large}|u1|-|all`]: Math.min(7, MAX_SPARE_SLOTS) });
    expect(await store.limits.slotsInUse(`${small}|`)).toEqual({});
    // Used again: taken from the spare ones, without the store.
    const again = await a.admit(principal(large), 'org.get');
    expect(await store.limits.slotsInUse(`${large}|`)).toEqual({ [`${large}|u1|-|all`]: 7 });
    if (again.admitted) again.admission.release();
    await a.heartbeat();
    // Used during that poll: kept. Idle for a whole poll: given back.
    expect(Object.values(a.spareSlots())).toEqual([7]);
    await a.heartbeat();
    await settle();
    expect(a.spareSlots()).toEqual({});
    expect(await store.limits.slotsInUse(`${large}|`)).toEqual({});
  });
});

describe('an instance that dies', () => {
  it('leaves no slot taken once a live instance has freed its lease, whatever it was doing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.constant('start'), fc.nat({ max: 9 }), fc.constant('heartbeat')), { maxLength: 40 }), async (steps) => {
        // 24: up to 3 spare slots per key, so slots kept spare are freed too.
        const orgId = await org({ concurrency: 24 });
        const dying = instance();
        const open: Admission[] = [];
        for (const step of steps) {
          if (step === 'start') {
            const r = await dying.admit(principal(orgId, step.length % 2 ? 'u1' : 'u2'), 'photo.upload');
            if (r.admitted) open.push(r.admission);
          } else if (step === 'heartbeat') {
            await dying.heartbeat();
          } else if (open.length > 0) {
            open.splice(step % open.length, 1)[0]!.release();
          }
        }
        await settle();
        // It dies here: its open calls never end. Another instance, a lease later, frees what it held.
        realNow += LEASE_MS + 1;
        await instance().heartbeat();
        expect(await store.limits.slotsInUse(`${orgId}|`)).toEqual({});
      }),
      { numRuns: 30 },
    );
  });
});
