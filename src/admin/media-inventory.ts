/**
 * Every record of a store with its photo and attachments, org by org, page by page (memory bounded by a page), and
 * the blobs they reference: what store migration, backup, restore and verification walk.
 */
import type { Attachment, CrmRecord, Org, Photo } from '../domain/entities.js';
import type { BlobStore } from '../domain/ports/blob-store.js';
import type { MetadataView } from '../domain/ports/metadata.js';

const PAGE = 500;

export interface RecordMedia {
  org: Org;
  record: CrmRecord;
  photo: Photo | undefined;
  attachments: Attachment[];
}

/** A blob some row references, with what the row recorded of it. */
export interface BlobRef {
  kind: 'photo' | 'attachment';
  orgId: string;
  recordId: string;
  /** The attachment id, or the record id for a photo. */
  id: string;
  blobKey: string;
  size: number;
  sha256: string | null;
}

export type InventoryView = MetadataView<'directory' | 'records' | 'photos' | 'attachments'>;

export async function* recordsWithMedia(store: InventoryView, orgs?: readonly Org[]): AsyncGenerator<RecordMedia> {
  for (const org of orgs ?? (await store.directory.listOrgs())) {
    // Bounded: each page advances the offset and the record count is finite.
    for (let offset = 0; ; offset += PAGE) {
      const records = await store.records.listOfOrg(org.id, { limit: PAGE, offset });
      for (const record of records) {
        const photo = await store.photos.get(org.id, record.id);
        const attachments: Attachment[] = [];
        for (let aOffset = 0; ; aOffset += PAGE) {
          const page = await store.attachments.list(org.id, record.id, { limit: PAGE, offset: aOffset });
          attachments.push(...page);
          if (page.length < PAGE) break;
        }
        yield { org, record, photo, attachments };
      }
      if (records.length < PAGE) break;
    }
  }
}

export function blobRefs(m: RecordMedia): BlobRef[] {
  const refs: BlobRef[] = [];
  if (m.photo) {
    const p = m.photo;
    refs.push({ kind: 'photo', orgId: p.orgId, recordId: p.recordId, id: p.recordId, blobKey: p.blobKey, size: p.size, sha256: p.sha256 });
  }
  for (const a of m.attachments) {
    if (a.blobKey) refs.push({ kind: 'attachment', orgId: a.orgId, recordId: a.recordId, id: a.id, blobKey: a.blobKey, size: a.size, sha256: a.sha256 });
  }
  return refs;
}

export async function* allBlobRefs(store: InventoryView): AsyncGenerator<BlobRef> {
  for await (const m of recordsWithMedia(store)) yield* blobRefs(m);
}

/** Why a referenced blob cannot be used as it is, or undefined when its size is the one recorded. */
export async function sizeProblem(blobs: BlobStore, ref: BlobRef): Promise<string | undefined> {
  const size = await blobs.size(ref.blobKey);
  if (size === undefined) return 'missing';
  if (size !== ref.size) return `${size} bytes where ${ref.size} were recorded`;
  return undefined;
}

export function describeRef(ref: BlobRef): string {
  return ref.kind === 'photo'
    ? `the photo of record ${ref.recordId} (org ${ref.orgId}, blob ${ref.blobKey})`
    : `attachment ${ref.id} of record ${ref.recordId} (org ${ref.orgId}, blob ${ref.blobKey})`;
}
