/**
 * One behaviour suite for every MetadataStore implementation (tus-style shared store suites): SQLite always,
 * PostgreSQL when reachable. What one engine does, the other must do too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment, CrmRecord, Org, Photo, Profile, User } from '../../src/domain/entities.js';
import { newZohoId } from '../../src/domain/ids.js';
import { openPostgresStore } from '../../src/storage/metadata/postgres.js';
import { openSqliteStore } from '../../src/storage/metadata/sqlite.js';
import { DuplicateKeyError } from '../../src/domain/ports/metadata-errors.js';
import type { MetadataStore } from '../../src/domain/ports/metadata.js';
import { createTestDatabase } from '../helpers/backend.js';

interface Harness {
  open(): Promise<MetadataStore>;
  cleanup(): Promise<void>;
}

async function sqliteHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'crm-media-meta-'));
  return { open: () => openSqliteStore({ file: join(dir, 'm.sqlite') }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function postgresHarness(): Promise<Harness> {
  const db = await createTestDatabase();
  return { open: () => openPostgresStore({ url: db.url, poolSize: 5 }), cleanup: () => db.drop() };
}

const pgReachable = process.env['CRM_MEDIA_TEST_PG'] === '1';

const T0 = 1_700_000_000_123;

function org(id = newZohoId()): Org {
  return { id, name: `org ${id}`, timeZone: 'Asia/Kolkata', createdAt: T0 };
}
function profile(orgId: string, isAdmin = false): Profile {
  return { id: newZohoId(), orgId, name: `p${newZohoId()}`, isAdmin, permissions: { '*': { view: true, create: false, edit: true, delete: false } }, createdAt: T0 };
}
function user(orgId: string, profileId: string): User {
  const id = newZohoId();
  return { id, orgId, profileId, name: `User ${id}`, email: `${id}@example.test`, status: 'active', createdAt: T0 };
}
function record(orgId: string, ownerId: string, module = 'Leads'): CrmRecord {
  return { id: newZohoId(), orgId, module, ownerId, data: { Last_Name: 'Boyle', nested: { a: [1, 'ü'] } }, state: 'normal', createdBy: ownerId, createdAt: T0, modifiedBy: ownerId, modifiedAt: T0 + 1 };
}
function photo(orgId: string, recordId: string, blobKey: string): Photo {
  return { orgId, recordId, blobKey, fileName: 'p.png', contentType: 'image/png', size: 12_345_678_901, width: 10, height: 20, sha256: 'ab'.repeat(32), createdBy: '1', createdAt: T0 };
}
function attachment(orgId: string, recordId: string, createdAt: number, blobKey: string | null = 'c'.repeat(32)): Attachment {
  return { id: newZohoId(), orgId, recordId, module: 'Leads', kind: blobKey ? 'file' : 'link', fileName: 'a.txt', title: null, linkUrl: blobKey ? null : 'https://x.test', contentType: 'text/plain', size: 5, blobKey, sha256: null, ownerId: '1', createdBy: '1', createdAt, modifiedBy: '1', modifiedAt: createdAt };
}

const engines: [string, () => Promise<Harness>, boolean][] = [
  ['sqlite', sqliteHarness, true],
  ['postgres', postgresHarness, pgReachable],
];

describe.each(engines)('MetadataStore conformance: %s', (_name, makeHarness, available) => {
  let harness: Harness;
  let store: MetadataStore;
  let o: Org;
  let admin: User;

  beforeAll(async () => {
    if (!available) return;
    harness = await makeHarness();
    store = await harness.open();
    o = org();
    await store.directory.insertOrg(o);
    const p = profile(o.id, true);
    await store.directory.insertProfile(p);
    admin = user(o.id, p.id);
    await store.directory.insertUser(admin);
  });
  afterAll(async () => {
    if (!available) return;
    await store?.close();
    await harness?.cleanup();
  });

  it.skipIf(!available)('round-trips orgs, profiles and users with their types intact', async () => {
    expect(await store.directory.getOrg(o.id)).toEqual(o);
    expect((await store.directory.listOrgs()).map((x) => x.id)).toContain(o.id);
    const [p] = await store.directory.listProfiles(o.id);
    expect(p).toMatchObject({ orgId: o.id, isAdmin: true, permissions: { '*': { view: true, create: false, edit: true, delete: false } } });
    expect(await store.directory.getUser(o.id, admin.id)).toEqual(admin);
    expect(await store.directory.getUser(newZohoId(), admin.id)).toBeUndefined();
  });

  it.skipIf(!available)('updates an org, a profile and a user in place, within their org only', async () => {
    const o2 = org();
    await store.directory.insertOrg(o2);
    expect(await store.directory.updateOrg({ ...o2, name: 'renamed', timeZone: 'UTC', createdAt: 1 })).toBe(true);
    // Everything but the name and the time zone stays as it was.
    expect(await store.directory.getOrg(o2.id)).toEqual({ ...o2, name: 'renamed', timeZone: 'UTC' });
    expect(await store.directory.updateOrg(org())).toBe(false);
    const p = profile(o2.id);
    await store.directory.insertProfile(p);
    const changed = { ...p, name: 'Renamed', isAdmin: true, permissions: { Leads: { view: true, create: true, edit: false, delete: false } } };
    expect(await store.directory.updateProfile(changed)).toBe(true);
    expect(await store.directory.listProfiles(o2.id)).toEqual([changed]);
    expect(await store.directory.updateProfile({ ...changed, orgId: o.id })).toBe(false);
    const u = user(o2.id, p.id);
    await store.directory.insertUser(u);
    const changedUser = { ...u, name: 'New Name', email: 'new@example.test', status: 'inactive' as const };
    expect(await store.directory.updateUser(changedUser)).toBe(true);
    expect(await store.directory.getUser(o2.id, u.id)).toEqual(changedUser);
    expect(await store.directory.updateUser({ ...changedUser, orgId: o.id })).toBe(false);
  });

  it.skipIf(!available)('finds a principal by token hash in one lookup, and revokes', async () => {
    const token = { id: newZohoId(), orgId: o.id, userId: admin.id, tokenHash: 'f'.repeat(64), scopes: 'ZohoCRM.modules.ALL', label: 'x', expiresAt: T0 + 3_600_000, revokedAt: null, createdAt: T0, clientId: null, refreshTokenId: null };
    await store.tokens.insert(token);
    const found = await store.tokens.findPrincipal(token.tokenHash);
    expect(found?.token).toEqual(token);
    expect(found?.user).toEqual(admin);
    expect(found?.org).toEqual(o);
    expect(found?.profile.isAdmin).toBe(true);
    expect(await store.tokens.findPrincipal('0'.repeat(64))).toBeUndefined();
    expect(await store.tokens.revoke(newZohoId(), token.id, T0)).toBe(false);
    expect(await store.tokens.revoke(o.id, token.id, T0 + 5)).toBe(true);
    expect((await store.tokens.findPrincipal(token.tokenHash))?.token.revokedAt).toBe(T0 + 5);
    expect((await store.tokens.list(o.id)).map((t) => t.id)).toContain(token.id);
  });

  it.skipIf(!available)('keeps module settings by case-insensitive API name, upserting sharing', async () => {
    await store.directory.upsertModuleSetting({ orgId: o.id, apiName: 'Pets', custom: true, singular: 'Pet', plural: 'Pets', sharing: 'private', createdAt: T0 });
    expect(await store.directory.getModuleSetting(o.id, 'PETS')).toMatchObject({ apiName: 'Pets', custom: true, sharing: 'private' });
    await store.directory.upsertModuleSetting({ orgId: o.id, apiName: 'Pets', custom: true, singular: 'Pet', plural: 'Pets', sharing: 'public_read_only', createdAt: T0 });
    expect((await store.directory.getModuleSetting(o.id, 'pets'))?.sharing).toBe('public_read_only');
    expect(await store.directory.getModuleSetting(newZohoId(), 'pets')).toBeUndefined();
    expect((await store.directory.listModuleSettings(o.id)).length).toBe(1);
  });

  it.skipIf(!available)('stores records with their fields as given, scoped by org, and their states', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    expect(await store.records.get(o.id, r.id)).toEqual(r);
    expect(await store.records.get(newZohoId(), r.id)).toBeUndefined();
    expect(await store.records.setState(o.id, r.id, 'awaiting_approval', T0 + 9)).toBe(true);
    expect((await store.records.get(o.id, r.id))?.state).toBe('awaiting_approval');
    expect(await store.records.setState(newZohoId(), r.id, 'normal', T0)).toBe(false);
    const listed = await store.records.list(o.id, 'Leads', { limit: 10, offset: 0 });
    expect(listed.map((x) => x.id)).toContain(r.id);
    expect(await store.records.delete(o.id, r.id)).toBe(true);
    expect(await store.records.delete(o.id, r.id)).toBe(false);
  });

  it.skipIf(!available)('replaces a photo row in place and reports references to blob keys', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    await store.photos.upsert(photo(o.id, r.id, 'a'.repeat(32)));
    await store.photos.upsert(photo(o.id, r.id, 'b'.repeat(32)));
    const p = await store.photos.get(o.id, r.id);
    expect(p?.blobKey).toBe('b'.repeat(32));
    expect(p?.size).toBe(12_345_678_901);
    expect(await store.photos.get(newZohoId(), r.id)).toBeUndefined();
    const keys = Array.from({ length: 1200 }, (_, i) => i.toString(16).padStart(32, '0'));
    keys.push('b'.repeat(32));
    expect([...(await store.maintenance.referencedBlobKeys(keys))]).toEqual(['b'.repeat(32)]);
    expect(await store.photos.delete(o.id, r.id)).toBe(true);
    expect(await store.photos.delete(o.id, r.id)).toBe(false);
  });

  it.skipIf(!available)('reads a record with its photo in one lookup', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    expect(await store.records.getWithPhoto(o.id, r.id)).toEqual({ record: r, photo: undefined });
    const p = photo(o.id, r.id, 'e'.repeat(32));
    await store.photos.upsert(p);
    expect(await store.records.getWithPhoto(o.id, r.id)).toEqual({ record: r, photo: p });
    expect(await store.records.getWithPhoto(newZohoId(), r.id)).toBeUndefined();
    expect(await store.records.getWithPhoto(o.id, newZohoId())).toBeUndefined();
  });

  it.skipIf(!available)('takes a record\'s lock and reads it in one step, inside a transaction only', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    expect(await store.transaction((tx) => tx.records.lockAndGet(o.id, r.id))).toEqual(r);
    expect(await store.transaction((tx) => tx.records.lockAndGet(o.id, newZohoId()))).toBeUndefined();
    await expect(store.records.lockAndGet(o.id, r.id)).rejects.toThrow();
    // Read-modify-write under lockAndGet serializes like under lock.
    await store.records.setState(o.id, r.id, 'normal', 0);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          const current = (await tx.records.lockAndGet(o.id, r.id))!;
          await new Promise((res) => setTimeout(res, 1));
          await tx.records.setState(o.id, r.id, 'normal', current.modifiedAt + 1);
        }),
      ),
    );
    expect((await store.records.get(o.id, r.id))?.modifiedAt).toBe(20);
  });

  it.skipIf(!available)('lists attachments newest first with paging, deletes one or all of a record', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    const atts = [attachment(o.id, r.id, T0 + 1), attachment(o.id, r.id, T0 + 3, null), attachment(o.id, r.id, T0 + 2)];
    for (const a of atts) await store.attachments.insert(a);
    const page1 = await store.attachments.list(o.id, r.id, { limit: 2, offset: 0 });
    expect(page1.map((a) => a.createdAt)).toEqual([T0 + 3, T0 + 2]);
    expect((await store.attachments.list(o.id, r.id, { limit: 2, offset: 2 })).map((a) => a.createdAt)).toEqual([T0 + 1]);
    expect(await store.attachments.get(o.id, r.id, atts[1]!.id)).toEqual(atts[1]);
    expect(await store.attachments.get(o.id, newZohoId(), atts[1]!.id)).toBeUndefined();
    expect(await store.attachments.delete(o.id, r.id, atts[0]!.id)).toBe(true);
    expect(await store.attachments.delete(o.id, r.id, atts[0]!.id)).toBe(false);
    expect((await store.attachments.deleteAllOf(o.id, r.id)).length).toBe(2);
    expect(await store.attachments.list(o.id, r.id, { limit: 10, offset: 0 })).toEqual([]);
  });

  it.skipIf(!available)('rolls back a transaction that throws', async () => {
    const r = record(o.id, admin.id);
    await expect(
      store.transaction(async (tx) => {
        await tx.records.insert(r);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.records.get(o.id, r.id)).toBeUndefined();
  });

  it.skipIf(!available)('serializes read-modify-write transactions on one record under its lock', async () => {
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    // Each transaction reads a counter kept in the photo's width and writes it back plus one.
    await store.photos.upsert({ ...photo(o.id, r.id, 'd'.repeat(32)), width: 0 });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          await tx.records.lock(o.id, r.id);
          const p = (await tx.photos.get(o.id, r.id))!;
          await new Promise((res) => setTimeout(res, 1));
          await tx.photos.upsert({ ...p, width: p.width + 1 });
        }),
      ),
    );
    expect((await store.photos.get(o.id, r.id))?.width).toBe(20);
    await expect(store.records.lock(o.id, r.id)).rejects.toThrow();
  });

  it.skipIf(!available)('uses a grant code once, and keeps refresh tokens with the access tokens minted from them', async () => {
    const client = { id: `1000.${newZohoId()}`, orgId: o.id, userId: admin.id, name: 'c', secretHash: 'a'.repeat(64), createdAt: T0 };
    await store.oauth.insertClient(client);
    expect(await store.oauth.getClient(client.id)).toEqual(client);
    const code = { codeHash: 'c'.repeat(64), clientId: client.id, orgId: o.id, userId: admin.id, scopes: 'ZohoCRM.modules.ALL', expiresAt: T0 + 1000, usedAt: null, createdAt: T0 };
    await store.oauth.insertGrantCode(code);
    const uses = await Promise.all(Array.from({ length: 5 }, () => store.oauth.useGrantCode(code.codeHash, T0 + 1)));
    expect(uses.filter(Boolean)).toHaveLength(1);
    expect((await store.oauth.getGrantCode(code.codeHash))?.usedAt).toBe(T0 + 1);
    const refresh = { id: newZohoId(), tokenHash: 'd'.repeat(64), clientId: client.id, orgId: o.id, userId: admin.id, scopes: 'x', revokedAt: null, createdAt: T0 };
    await store.oauth.insertRefreshToken(refresh);
    for (let i = 0; i < 3; i++) {
      await store.tokens.insert({ id: newZohoId(), orgId: o.id, userId: admin.id, tokenHash: `${i}`.repeat(64), scopes: 'x', label: null, expiresAt: null, revokedAt: null, createdAt: T0 + i, clientId: client.id, refreshTokenId: refresh.id });
    }
    expect((await store.tokens.liveOfRefreshToken(refresh.id)).map((t) => t.createdAt)).toEqual([T0, T0 + 1, T0 + 2]);
    expect(await store.tokens.revokeAllOfRefreshToken(refresh.id, T0 + 9)).toBe(3);
    expect(await store.tokens.liveOfRefreshToken(refresh.id)).toEqual([]);
    await store.oauth.revokeRefreshToken(refresh.id, T0 + 9);
    expect((await store.oauth.findRefreshToken(refresh.tokenHash))?.revokedAt).toBe(T0 + 9);
    // Listed whatever their state, for exporting an org as it is.
    expect(await store.oauth.listGrantCodes(o.id)).toContainEqual({ ...code, usedAt: T0 + 1 });
    expect(await store.oauth.listRefreshTokens(o.id)).toContainEqual({ ...refresh, revokedAt: T0 + 9 });
    expect(await store.oauth.listGrantCodes(newZohoId())).toEqual([]);
    expect(await store.transaction((tx) => tx.oauth.deleteClient(o.id, client.id, T0 + 10))).toBe(true);
    expect(await store.oauth.getClient(client.id)).toBeUndefined();
  });

  it.skipIf(!available)('holds a live refresh token against a concurrent revoke until the transaction ends', async () => {
    const client = { id: `1000.${newZohoId()}`, orgId: o.id, userId: admin.id, name: 'c', secretHash: 'a'.repeat(64), createdAt: T0 };
    await store.oauth.insertClient(client);
    const refresh = { id: newZohoId(), tokenHash: 'e'.repeat(64), clientId: client.id, orgId: o.id, userId: admin.id, scopes: 'x', revokedAt: null, createdAt: T0 };
    await store.oauth.insertRefreshToken(refresh);
    let revoked = false;
    let revoke: Promise<void> | undefined;
    await store.transaction(async (tx) => {
      expect(await tx.oauth.holdLiveRefreshToken(refresh.id)).toBe(true);
      revoke = store.oauth.revokeRefreshToken(refresh.id, T0 + 5).then(() => {
        revoked = true;
      });
      await new Promise((r) => setTimeout(r, 150));
      // The revoke waits for this transaction: a token minted here is seen by the revoke that follows it.
      expect(revoked).toBe(false);
    });
    await revoke;
    expect(revoked).toBe(true);
    expect(await store.transaction((tx) => tx.oauth.holdLiveRefreshToken(refresh.id))).toBe(false);
    expect(await store.transaction((tx) => tx.oauth.holdLiveRefreshToken(newZohoId()))).toBe(false);
  });

  it.skipIf(!available)('reports a taken key as DuplicateKeyError, whatever the engine', async () => {
    const p = profile(o.id);
    await store.directory.insertProfile(p);
    await expect(store.directory.insertProfile({ ...p, name: 'other name' })).rejects.toBeInstanceOf(DuplicateKeyError);
    const r = record(o.id, admin.id);
    await store.records.insert(r);
    await expect(store.records.insert(r)).rejects.toBeInstanceOf(DuplicateKeyError);
  });

  it.skipIf(!available)('never hands one outbox event to two concurrent claimers, and releases it on update', async () => {
    const rule = { id: newZohoId(), orgId: o.id, name: 'r', module: 'Leads', event: 'photo_uploaded' as const, webhookUrl: 'http://127.0.0.1:1/', secret: null, active: true, createdAt: T0 };
    await store.workflows.insert(rule);
    expect(await store.workflows.activeFor(o.id, 'Leads', 'photo_uploaded')).toEqual([rule]);
    expect(await store.workflows.activeFor(o.id, 'Leads', 'photo_deleted')).toEqual([]);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const id = newZohoId();
      ids.push(id);
      await store.outbox.insert({ id, orgId: o.id, ruleId: rule.id, event: 'photo_uploaded', payload: '{}', status: 'pending', attempts: 0, nextAttemptAt: T0, lockedUntil: null, lastError: null, createdAt: T0 + i, deliveredAt: null });
    }
    expect(await store.outbox.countByStatus(o.id)).toEqual({ pending: 30, delivered: 0, failed: 0 });
    expect((await store.outbox.countByStatus()).pending).toBeGreaterThanOrEqual(30);
    expect(await store.outbox.countByStatus(newZohoId())).toEqual({ pending: 0, delivered: 0, failed: 0 });
    const now = T0 + 100;
    const claims = await Promise.all(Array.from({ length: 6 }, () => store.outbox.claimDue(now, now + 60_000, 10)));
    const claimed = claims.flat().map((e) => e.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual([...ids].sort());
    expect(await store.outbox.claimDue(now + 1, now + 60_000, 10)).toEqual([]);
    // After its holder gives it back (delivered, or rescheduled), an event is no longer held.
    await store.outbox.update(ids[0]!, { status: 'pending', attempts: 1, nextAttemptAt: now + 5, lastError: 'HTTP 500', deliveredAt: null });
    expect((await store.outbox.claimDue(now + 6, now + 60_000, 10)).map((e) => e.id)).toEqual([ids[0]]);
    // A holder that died: its hold lapses and the event is claimable again.
    expect((await store.outbox.claimDue(now + 60_001, now + 120_000, 100)).length).toBe(30);
    await store.outbox.update(ids[1]!, { status: 'delivered', attempts: 1, nextAttemptAt: now, lastError: null, deliveredAt: now });
    expect((await store.outbox.list(o.id, { status: 'delivered' }, { limit: 10, offset: 0 })).map((e) => e.id)).toEqual([ids[1]]);
    expect(await store.outbox.countByStatus(o.id)).toEqual({ pending: 29, delivered: 1, failed: 0 });
    await store.outbox.insertAttempt({ id: newZohoId(), eventId: ids[1]!, attempt: 1, startedAt: now, durationMs: 3, statusCode: 200, error: null });
    expect((await store.outbox.listAttempts(ids[1]!)).map((a) => a.statusCode)).toEqual([200]);
  });

  it.skipIf(!available)('keeps an org\'s limit settings, replacing them whole', async () => {
    const settings = { orgId: o.id, edition: 'enterprise' as const, users: 10, credits: null, concurrency: 3, subConcurrency: null, storageBytes: 12_345_678_901, recordAttachmentBytes: null, tokenLimits: false, updatedAt: T0 };
    await store.limits.putSettings(settings);
    expect(await store.limits.getSettings(o.id)).toEqual(settings);
    const explicit = { ...settings, edition: null, users: null, credits: 5000, tokenLimits: null, updatedAt: T0 + 1 };
    await store.limits.putSettings(explicit);
    expect(await store.limits.getSettings(o.id)).toEqual(explicit);
    expect(await store.limits.deleteSettings(o.id)).toBe(true);
    expect(await store.limits.getSettings(o.id)).toBeUndefined();
    expect(await store.limits.deleteSettings(o.id)).toBe(false);
  });

  it.skipIf(!available)('spends credits exactly up to the limit, however many spend at once', async () => {
    const orgId = newZohoId();
    const bucket = 500_000;
    const results = await Promise.all(Array.from({ length: 80 }, () => store.limits.spendCredits(orgId, 1, 50, bucket)));
    expect(results.filter((r) => r.spent)).toHaveLength(50);
    expect(results.filter((r) => !r.spent).map((r) => r.used)).toEqual(Array(30).fill(50));
    expect(Math.max(...results.map((r) => r.used))).toBe(50);
    expect(await store.limits.creditsUsed(orgId, bucket)).toBe(50);
    expect((await store.limits.spendCredits(orgId, 5, 60, bucket)).used).toBe(55);
    expect(await store.limits.spendCredits(orgId, 6, 60, bucket)).toEqual({ spent: false, used: 55 });
    await store.limits.resetCredits(orgId);
    expect(await store.limits.creditsUsed(orgId, bucket)).toBe(0);
    expect(await store.limits.spendCredits(newZohoId(), 2, 1, bucket)).toEqual({ spent: false, used: 0 });
  });

  it.skipIf(!available)('gives credits back once their hourly bucket has left the window, never when the clock goes back', async () => {
    const orgId = newZohoId();
    const b = 700_001;
    expect((await store.limits.spendCredits(orgId, 3, 10, b)).spent).toBe(true);
    expect((await store.limits.spendCredits(orgId, 4, 10, b + 10)).used).toBe(7);
    // Still inside the window 24 buckets later; the first bucket leaves it at b + 25, the second at b + 35.
    expect(await store.limits.creditsUsed(orgId, b + 24)).toBe(7);
    expect((await store.limits.spendCredits(orgId, 4, 10, b + 24)).spent).toBe(false);
    expect(await store.limits.creditsUsed(orgId, b + 25)).toBe(4);
    expect((await store.limits.spendCredits(orgId, 6, 10, b + 25)).used).toBe(10);
    // A clock set back (bucket b + 1) still sees the newest bucket written.
    expect(await store.limits.spendCredits(orgId, 1, 10, b + 1)).toEqual({ spent: false, used: 10 });
    expect(await store.limits.creditsUsed(orgId, b + 35)).toBe(6);
    expect(await store.limits.creditsUsed(orgId, b + 60)).toBe(0);
    expect((await store.limits.spendCredits(orgId, 10, 10, b + 60)).used).toBe(10);
  });

  it.skipIf(!available)('hands out at most the limit of slots at once, and gives them back', async () => {
    const key = `${newZohoId()}|u|c|main`;
    const taken = await Promise.all(Array.from({ length: 20 }, () => store.limits.acquireSlot(key, 5)));
    expect(taken.filter(Boolean)).toHaveLength(5);
    expect(await store.limits.slotsInUse(key.slice(0, 19))).toEqual({ [key]: 5 });
    await store.limits.releaseSlots(key, 2);
    expect(await store.limits.acquireSlot(key, 5)).toBe(true);
    expect(await store.limits.acquireSlot(key, 5)).toBe(true);
    expect(await store.limits.acquireSlot(key, 5)).toBe(false);
    await store.limits.releaseSlots(key, 50);
    expect(await store.limits.slotsInUse(key.slice(0, 19))).toEqual({});
    expect(await store.limits.acquireSlot(key, 1)).toBe(true);
  });

  it.skipIf(!available)('returns an expired lease once, to one taker, with what it held', async () => {
    const dead = `i-${newZohoId()}`;
    const alive = `i-${newZohoId()}`;
    await store.limits.heartbeat(dead, T0 + 10, { a: 2 });
    await store.limits.heartbeat(dead, T0 + 20, { a: 3, b: 1 });
    await store.limits.heartbeat(alive, T0 + 1_000, {});
    expect(await store.limits.takeExpiredLease(T0 + 15)).toBeUndefined();
    const takers = await Promise.all(Array.from({ length: 4 }, () => store.limits.takeExpiredLease(T0 + 21)));
    expect(takers.filter((t) => t !== undefined)).toEqual([{ instanceId: dead, holdings: { a: 3, b: 1 } }]);
    await store.limits.dropLease(alive);
    expect(await store.limits.takeExpiredLease(T0 + 10_000)).toBeUndefined();
  });

  it.skipIf(!available)('counts each org\'s storage, and recounts it from the rows', async () => {
    const mine = org();
    await store.directory.insertOrg(mine);
    const r = record(mine.id, admin.id);
    await store.records.insert(r);
    await store.photos.upsert(photo(mine.id, r.id, 'e'.repeat(32)));
    await store.attachments.insert(attachment(mine.id, r.id, T0));
    await store.attachments.insert(attachment(mine.id, r.id, T0 + 1));
    expect(await store.attachments.totalSize(mine.id, r.id)).toBe(10);
    expect(await store.attachments.totalSize(mine.id, newZohoId())).toBe(0);
    const other = newZohoId();
    expect(await store.storage.used(other)).toBe(0);
    expect(await store.storage.add(other, 7_000_000_000)).toBe(7_000_000_000);
    expect(await store.storage.add(other, -1)).toBe(6_999_999_999);
    const adds = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => tx.storage.add(other, 1))));
    expect(Math.max(...adds)).toBe(7_000_000_009);
    expect(await store.storage.recount(mine.id)).toBe(12_345_678_901 + 10);
    expect(await store.storage.used(mine.id)).toBe(12_345_678_901 + 10);
  });

  it.skipIf(!available)('keeps fault rules, firing a counted one exactly as often as allowed', async () => {
    const match = { operation: 'photo.upload', method: null, module: 'Leads', orgId: o.id, userId: null, tokenId: null, clientId: null };
    const counted = { id: `f-${newZohoId()}`, match, action: { kind: 'delay' as const, minMs: 5, maxMs: 10 }, probability: 0.25, remaining: 3, until: T0 + 9, fired: 0, createdAt: T0 };
    const always = { ...counted, id: `f-${newZohoId()}`, action: { kind: 'reset' as const, when: 'after_headers' as const }, probability: null, remaining: null, until: null, createdAt: T0 + 1 };
    await store.faults.insert(always);
    await store.faults.insert(counted);
    expect(await store.faults.list()).toEqual([counted, always]);
    const fired = await Promise.all(Array.from({ length: 10 }, () => store.faults.fire(counted.id)));
    expect(fired.filter(Boolean)).toHaveLength(3);
    expect(await store.faults.fire(always.id)).toBe(true);
    const [c, a] = await store.faults.list();
    expect([c?.remaining, c?.fired, a?.remaining, a?.fired]).toEqual([0, 3, null, 1]);
    expect(await store.faults.delete(counted.id)).toBe(true);
    expect(await store.faults.fire(counted.id)).toBe(false);
    expect(await store.faults.deleteAll()).toBe(1);
    expect(await store.faults.list()).toEqual([]);
  });

  it.skipIf(!available)('moves the clock\'s offset forward atomically, and back to zero', async () => {
    await store.clock.reset();
    expect(await store.clock.offset()).toBe(0);
    await Promise.all(Array.from({ length: 8 }, () => store.clock.advance(3_600_000)));
    expect(await store.clock.offset()).toBe(8 * 3_600_000);
    expect(await store.clock.advance(1)).toBe(8 * 3_600_000 + 1);
    await store.clock.reset();
    expect(await store.clock.offset()).toBe(0);
  });

  it.skipIf(!available)('survives reopening (migrations are idempotent) and resets', async () => {
    await store.close();
    store = await harness.open();
    expect(await store.directory.getOrg(o.id)).toEqual(o);
    await store.maintenance.reset();
    expect(await store.directory.listOrgs()).toEqual([]);
  });
});
