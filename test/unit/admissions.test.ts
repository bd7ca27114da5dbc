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
import { type Admission, Admissions, LEASE_MS } from '../../src/domain/admissions.js';
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

describe('an instance that dies', () => {
  it('leaves no slot taken once a live instance has freed its lease, whatever it was doing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.constant('start'), fc.nat({ max: 9 }), fc.constant('heartbeat')), { maxLength: 40 }), async (steps) => {
        const orgId = await org({ concurrency: 6 });
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
