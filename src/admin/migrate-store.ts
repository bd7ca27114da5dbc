/**
 * Copies everything from one pair of stores to another (typically the embedded SQLite + disk to PostgreSQL + S3):
 * metadata row by row with ids and times unchanged, and every blob streamed across with its size and SHA-256 checked
 * twice — while copying against what the row recorded at upload, and afterwards by reading the copy back.
 *
 * All or nothing. Every referenced blob is first checked in the source (present, of the recorded size), so damage
 * found there stops the migration before anything is written. The rows are written in one transaction of the target,
 * committed only once every copy has been read back and verified; on any failure (an unreachable target, bytes that
 * do not match their row, an interruption) the transaction is rolled back and the blobs already copied are removed,
 * so the target is left as it was found and a rerun starts afresh. A process killed outright leaves no row either;
 * its copied blobs are unreferenced, and the target's orphan sweeper removes them. The source is only read, inside
 * one read transaction (on SQLite a snapshot, even if something writes meanwhile).
 *
 * What is copied: orgs, profiles, users, module settings, OAuth clients, grant codes, refresh and access tokens,
 * workflow rules and every workflow event with its delivery attempts, limits and fault rules, records, photos and
 * attachments. Not copied: credits spent in the rolling window (the target's window starts empty), the movable test
 * clock's offset, and the request journal (kept in memory by each server).
 */
import { createHash } from 'node:crypto';
import { Inspector } from '../streams/inspector.js';
import type { BlobStore } from '../domain/ports/blob-store.js';
import type { MetadataPorts, MetadataStore, MetadataView } from '../domain/ports/metadata.js';
import { type BlobRef, blobRefs, describeRef, recordsWithMedia, sizeProblem } from './media-inventory.js';

export interface SkippedMedia {
  kind: 'photo' | 'attachment';
  org: string;
  record: string;
  id: string;
  blob: string;
  problem: string;
}

export interface MigrationReport {
  orgs: number;
  profiles: number;
  users: number;
  modules: number;
  tokens: number;
  oauthClients: number;
  grantCodes: number;
  refreshTokens: number;
  workflowRules: number;
  /** Workflow events queued for delivery or delivered, with their delivery attempts. */
  webhookEvents: number;
  faultRules: number;
  records: number;
  photos: number;
  attachments: number;
  blobs: number;
  bytes: number;
  verified: number;
  /** Media left out because their bytes were damaged (only with `skipDamaged`). */
  skipped: SkippedMedia[];
}

export class MigrationError extends Error {}

/** A referenced blob whose bytes cannot be copied as they are. */
class DamagedBlobError extends MigrationError {
  constructor(
    readonly ref: BlobRef,
    readonly problem: string,
  ) {
    super(`${describeRef(ref)}: ${problem}`);
  }
}

export interface MigrationProgress {
  (report: MigrationReport): void;
}

export interface MigrationOptions {
  progress?: MigrationProgress;
  /** Leave out (and report) photos and attachments whose bytes are missing or damaged, instead of stopping. */
  skipDamaged?: boolean;
  /** Aborting stops the migration between two blobs, leaving the target as it was (SIGINT). */
  signal?: AbortSignal;
}

/** How many damaged blobs a refusal names before it counts the rest. */
const NAMED = 10;

type Ports = MetadataView<keyof MetadataPorts>;

async function copyBlob(from: BlobStore, to: BlobStore, ref: BlobRef): Promise<{ key: string; size: number; sha256: string }> {
  const source = await from.open(ref.blobKey);
  if (!source) throw new DamagedBlobError(ref, 'missing from the source store');
  // The upload path's own pass-through stage, with no size limit: it hashes what crosses it.
  const hashing = new Inspector({ maxBytes: Number.POSITIVE_INFINITY, hash: true, tooLarge: () => new Error('unreachable') });
  source.stream.on('error', (err) => hashing.destroy(err));
  const written = await to.put(source.stream.pipe(hashing));
  const sha256 = hashing.sha256!;
  let problem: string | undefined;
  if (written.size !== ref.size) problem = `${written.size} bytes where ${ref.size} were recorded`;
  else if (ref.sha256 !== null && sha256 !== ref.sha256) problem = 'the bytes do not match the SHA-256 recorded at upload';
  if (problem) {
    await to.delete(written.key);
    throw new DamagedBlobError(ref, problem);
  }
  return { key: written.key, size: written.size, sha256 };
}

async function hashOf(store: BlobStore, key: string): Promise<string> {
  const r = await store.open(key);
  if (!r) throw new MigrationError(`blob ${key} is missing from the target store after copying`);
  const hash = createHash('sha256');
  for await (const chunk of r.stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function requireEmpty(target: Pick<Ports, 'directory'>): Promise<void> {
  if ((await target.directory.listOrgs()).length > 0) {
    throw new MigrationError('the target database already holds data; migrate into an empty one');
  }
}

function skippedOf(e: DamagedBlobError): SkippedMedia {
  return { kind: e.ref.kind, org: e.ref.orgId, record: e.ref.recordId, id: e.ref.id, blob: e.ref.blobKey, problem: e.problem };
}

/** Every referenced blob of the source, present and of its recorded size; the damaged ones, by key. */
async function damagedInSource(src: Ports, blobs: BlobStore, signal: AbortSignal | undefined): Promise<Map<string, DamagedBlobError>> {
  const damaged = new Map<string, DamagedBlobError>();
  for await (const m of recordsWithMedia(src)) {
    checkAborted(signal);
    for (const ref of blobRefs(m)) {
      const problem = await sizeProblem(blobs, ref);
      if (problem) damaged.set(ref.blobKey, new DamagedBlobError(ref, problem));
    }
  }
  return damaged;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MigrationError('interrupted; the target was left as it was found');
}

export async function migrateStore(
  source: { store: MetadataStore; blobs: BlobStore },
  target: { store: MetadataStore; blobs: BlobStore },
  opts: MigrationOptions = {},
): Promise<MigrationReport> {
  const { signal, progress = () => {} } = opts;
  await requireEmpty(target.store);
  const report: MigrationReport = {
    orgs: 0, profiles: 0, users: 0, modules: 0, tokens: 0, oauthClients: 0, grantCodes: 0, refreshTokens: 0,
    workflowRules: 0, webhookEvents: 0, faultRules: 0, records: 0, photos: 0, attachments: 0,
    blobs: 0, bytes: 0, verified: 0, skipped: [],
  };
  /** Target key → hash it must have, checked by reading every copy back before the commit. */
  const copies = new Map<string, string>();
  try {
    await source.store.transaction(async (src) => {
      const damaged = await damagedInSource(src, source.blobs, signal);
      if (damaged.size > 0 && !opts.skipDamaged) {
        const named = [...damaged.values()].slice(0, NAMED).map((e) => e.message);
        const more = damaged.size > NAMED ? `; and ${damaged.size - NAMED} more` : '';
        throw new MigrationError(
          `${damaged.size} referenced blob(s) of the source are missing or not of their recorded size, nothing was copied: ${named.join('; ')}${more}. Restore them from a backup, or pass --skip-damaged to migrate everything else and list what was left out`,
        );
      }
      await target.store.transaction(async (dst) => {
        // Checked again inside the transaction: another migration may have filled it since.
        await requireEmpty(dst);
        await copyAll(src, dst, source.blobs, target.blobs, { report, copies, damaged, opts });
        for (const [key, sha256] of copies) {
          checkAborted(signal);
          if ((await hashOf(target.blobs, key)) !== sha256) throw new MigrationError(`blob ${key}: the copy in the target differs from the source`);
          report.verified++;
        }
        progress(report);
      });
    });
  } catch (err) {
    // The rows were rolled back; the copied bytes go too, so that the target is as it was found.
    const left = await removeAll(target.blobs, copies.keys());
    if (left > 0 && err instanceof Error) err.message += ` (${left} copied blob(s) could not be removed from the target; its orphan sweeper will)`;
    throw err;
  }
  return report;
}

/** The report's counts of rows copied as they are. */
type CountedRows = 'profiles' | 'users' | 'modules' | 'oauthClients' | 'grantCodes' | 'refreshTokens' | 'tokens' | 'workflowRules' | 'faultRules';

interface CopyState {
  report: MigrationReport;
  copies: Map<string, string>;
  damaged: Map<string, DamagedBlobError>;
  opts: MigrationOptions;
}

async function copyAll(src: Ports, dst: Ports, from: BlobStore, to: BlobStore, s: CopyState): Promise<void> {
  const { report, copies, opts } = s;
  const copy = async (ref: BlobRef): Promise<string | undefined> => {
    checkAborted(opts.signal);
    try {
      const known = s.damaged.get(ref.blobKey);
      if (known) throw known;
      const c = await copyBlob(from, to, ref);
      copies.set(c.key, c.sha256);
      report.blobs++;
      report.bytes += c.size;
      return c.key;
    } catch (err) {
      if (!(err instanceof DamagedBlobError) || !opts.skipDamaged) throw err;
      report.skipped.push(skippedOf(err));
      return undefined;
    }
  };

  /** Every row `rows` gives, written by `insert`, counted under `counter`. */
  const copyRows = async <T>(rows: Promise<T[]>, insert: (row: T) => Promise<void>, counter: CountedRows): Promise<void> => {
    for (const row of await rows) {
      await insert(row);
      report[counter]++;
    }
  };
  const orgs = await src.directory.listOrgs();
  for (const org of orgs) {
    await dst.directory.insertOrg(org);
    report.orgs++;
    await copyRows(src.directory.listProfiles(org.id), (p) => dst.directory.insertProfile(p), 'profiles');
    await copyRows(src.directory.listUsers(org.id), (u) => dst.directory.insertUser(u), 'users');
    await copyRows(src.directory.listModuleSettings(org.id), (m) => dst.directory.upsertModuleSetting(m), 'modules');
    // OAuth before access tokens: an integration's client, its refresh token and the access tokens minted from it
    // all come across, so that it keeps refreshing against the new stores as it did.
    await copyRows(src.oauth.listClients(org.id), (c) => dst.oauth.insertClient(c), 'oauthClients');
    await copyRows(src.oauth.listGrantCodes(org.id), (g) => dst.oauth.insertGrantCode(g), 'grantCodes');
    await copyRows(src.oauth.listRefreshTokens(org.id), (r) => dst.oauth.insertRefreshToken(r), 'refreshTokens');
    await copyRows(src.tokens.list(org.id), (t) => dst.tokens.insert(t), 'tokens');
    await copyRows(src.workflows.list(org.id), (w) => dst.workflows.insert(w), 'workflowRules');
    await copyOutbox(src, dst, org.id, report);
    const limits = await src.limits.getSettings(org.id);
    if (limits) await dst.limits.putSettings(limits);
  }
  await copyRows(src.faults.list(), (f) => dst.faults.insert(f), 'faultRules');
  let sinceProgress = 0;
  for await (const m of recordsWithMedia(src, orgs)) {
    await dst.records.insert(m.record);
    report.records++;
    if (m.photo) {
      const p = m.photo;
      const key = await copy({ kind: 'photo', orgId: p.orgId, recordId: p.recordId, id: p.recordId, blobKey: p.blobKey, size: p.size, sha256: p.sha256 });
      if (key) {
        await dst.photos.upsert({ ...p, blobKey: key });
        report.photos++;
      }
    }
    for (const a of m.attachments) {
      let blobKey: string | null = null;
      if (a.blobKey) {
        const key = await copy({ kind: 'attachment', orgId: a.orgId, recordId: a.recordId, id: a.id, blobKey: a.blobKey, size: a.size, sha256: a.sha256 });
        if (!key) continue;
        blobKey = key;
      }
      await dst.attachments.insert({ ...a, blobKey });
      report.attachments++;
    }
    if (++sinceProgress >= 500) {
      sinceProgress = 0;
      opts.progress?.(report);
    }
  }
  // The rows were copied one by one, not through changes: each org's storage counter is counted from them.
  for (const org of orgs) await dst.storage.recount(org.id);
}

/**
 * Every workflow event of the org with its delivery attempts: those still queued are deliveries the server
 * acknowledged and owes, and the delivered ones are the history the admin API and console show.
 */
async function copyOutbox(src: Ports, dst: Ports, orgId: string, report: MigrationReport): Promise<void> {
  const PAGE = 500;
  // Read inside the source's one read transaction: offsets are stable over its snapshot.
  for (let offset = 0; ; offset += PAGE) {
    const events = await src.outbox.list(orgId, {}, { limit: PAGE, offset });
    for (const e of events) {
      await dst.outbox.insert(e);
      for (const a of await src.outbox.listAttempts(e.id)) await dst.outbox.insertAttempt(a);
      report.webhookEvents++;
    }
    if (events.length < PAGE) return;
  }
}

/** Removes every key (best effort); returns how many could not be removed. */
async function removeAll(blobs: BlobStore, keys: Iterable<string>): Promise<number> {
  let left = 0;
  for (const key of keys) await blobs.delete(key).catch(() => left++);
  return left;
}
