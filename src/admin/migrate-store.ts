/**
 * Copies everything from one pair of stores to another (typically the embedded SQLite + disk to PostgreSQL + S3):
 * metadata row by row with ids and times unchanged, and every blob streamed across with its SHA-256 checked twice —
 * while copying against the hash recorded at upload, and afterwards by reading the copy back from the target.
 * The target must be empty; the source is only read.
 */
import { createHash } from 'node:crypto';
import { Inspector } from '../streams/inspector.js';
import type { BlobStore } from '../domain/ports/blob-store.js';
import type { MetadataStore } from '../domain/ports/metadata.js';

export interface MigrationReport {
  orgs: number;
  profiles: number;
  users: number;
  modules: number;
  tokens: number;
  records: number;
  photos: number;
  attachments: number;
  blobs: number;
  bytes: number;
  verified: number;
}

export class MigrationError extends Error {}

const PAGE = 500;

export interface MigrationProgress {
  (report: MigrationReport): void;
}

async function copyBlob(from: BlobStore, to: BlobStore, key: string, expectedSha256: string | null): Promise<{ key: string; size: number; sha256: string }> {
  const source = await from.open(key);
  if (!source) throw new MigrationError(`blob ${key} is referenced but missing from the source store`);
  // The upload path's own pass-through stage, with no size limit: it hashes what crosses it.
  const hashing = new Inspector({ maxBytes: Number.POSITIVE_INFINITY, hash: true, tooLarge: () => new Error('unreachable') });
  source.stream.on('error', (err) => hashing.destroy(err));
  const written = await to.put(source.stream.pipe(hashing));
  const sha256 = hashing.sha256!;
  if (expectedSha256 !== null && sha256 !== expectedSha256) {
    await to.delete(written.key);
    throw new MigrationError(`blob ${key}: source bytes do not match the hash recorded at upload`);
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

export async function migrateStore(
  source: { store: MetadataStore; blobs: BlobStore },
  target: { store: MetadataStore; blobs: BlobStore },
  progress: MigrationProgress = () => {},
): Promise<MigrationReport> {
  if ((await target.store.directory.listOrgs()).length > 0) {
    throw new MigrationError('the target database already holds data; migrate into an empty one');
  }
  const report: MigrationReport = { orgs: 0, profiles: 0, users: 0, modules: 0, tokens: 0, records: 0, photos: 0, attachments: 0, blobs: 0, bytes: 0, verified: 0 };
  /** Target key → hash it must have, checked by reading every copy back at the end. */
  const copies = new Map<string, string>();
  const copy = async (key: string, sha256: string | null) => {
    const c = await copyBlob(source.blobs, target.blobs, key, sha256);
    copies.set(c.key, c.sha256);
    report.blobs++;
    report.bytes += c.size;
    return c;
  };

  for (const org of await source.store.directory.listOrgs()) {
    await target.store.directory.insertOrg(org);
    report.orgs++;
    for (const p of await source.store.directory.listProfiles(org.id)) {
      await target.store.directory.insertProfile(p);
      report.profiles++;
    }
    for (const u of await source.store.directory.listUsers(org.id)) {
      await target.store.directory.insertUser(u);
      report.users++;
    }
    for (const m of await source.store.directory.listModuleSettings(org.id)) {
      await target.store.directory.upsertModuleSetting(m);
      report.modules++;
    }
    for (const t of await source.store.tokens.list(org.id)) {
      await target.store.tokens.insert(t);
      report.tokens++;
    }
    const limits = await source.store.limits.getSettings(org.id);
    if (limits) await target.store.limits.putSettings(limits);
    // Bounded: each page advances the offset and the record count is finite.
    for (let offset = 0; ; offset += PAGE) {
      const records = await source.store.records.listOfOrg(org.id, { limit: PAGE, offset });
      for (const r of records) {
        await target.store.records.insert(r);
        report.records++;
        const photo = await source.store.photos.get(org.id, r.id);
        if (photo) {
          const c = await copy(photo.blobKey, photo.sha256);
          await target.store.photos.upsert({ ...photo, blobKey: c.key });
          report.photos++;
        }
        for (let aOffset = 0; ; aOffset += PAGE) {
          const atts = await source.store.attachments.list(org.id, r.id, { limit: PAGE, offset: aOffset });
          for (const a of atts) {
            const blobKey = a.blobKey ? (await copy(a.blobKey, a.sha256)).key : null;
            await target.store.attachments.insert({ ...a, blobKey });
            report.attachments++;
          }
          if (atts.length < PAGE) break;
        }
      }
      progress(report);
      if (records.length < PAGE) break;
    }
    // The rows were copied one by one, not through changes: the org's storage counter is counted from them.
    await target.store.storage.recount(org.id);
  }

  for (const [key, sha256] of copies) {
    if ((await hashOf(target.blobs, key)) !== sha256) throw new MigrationError(`blob ${key}: the copy in the target differs`);
    report.verified++;
  }
  return report;
}
