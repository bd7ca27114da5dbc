/**
 * The parts of a seed that the admin API has no "create" for, restored as the export wrote them: OAuth clients with
 * their grant codes and refresh tokens (as hashes, or values that are hashed here), and records' photos and
 * attachments with their bytes. Everything is checked as an API upload or the token server would check it: photos
 * are probed (type and size from the bytes, the pixel and byte limits), links must be http(s), scopes must parse.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { contentTypeFor } from '../domain/content-types.js';
import type { Attachment, CrmRecord } from '../domain/entities.js';
import { zohoError } from '../domain/errors.js';
import { isZohoId, newZohoId } from '../domain/ids.js';
import { isHttpLink } from '../domain/links.js';
import { newClientId, newClientSecret } from '../domain/oauth.js';
import type { BlobStore } from '../domain/ports/blob-store.js';
import type { MetadataView } from '../domain/ports/metadata.js';
import { ScopeSet, isValidScopeList } from '../domain/scopes.js';
import { hashToken } from '../domain/tokens.js';
import { rethrowStoreFull } from '../domain/staging.js';
import { cleanFileName } from '../domain/uploads.js';
import { ImageProbeError, probeImage } from '../media/image-probe.js';

export interface MediaLimits {
  photoMaxBytes: number;
  photoMaxPixels: number;
  attachmentMaxBytes: number;
  contentHash: boolean;
}

type RestorePorts = 'oauth' | 'photos' | 'attachments';

function invalid(field: string, reason: string): never {
  throw zohoError('INVALID_DATA', { field, reason });
}

/** Exactly one of a secret's value or its hash; neither means a new value (returned so it can be shown once). */
function secretHash(field: string, value: string | undefined, hash: string | undefined): { hash: string; minted?: string } {
  if (value !== undefined && hash !== undefined) invalid(field, 'give the value or its hash, not both');
  if (hash !== undefined) return { hash };
  if (value !== undefined) return { hash: hashToken(value) };
  const minted = newClientSecret();
  return { hash: hashToken(minted), minted };
}

function scopesOf(field: string, scopes: string): string {
  if (!isValidScopeList(scopes)) invalid(field, 'not a list of ZohoCRM scopes');
  return ScopeSet.parse(scopes).toString();
}

export interface RestoredClient {
  id: string;
  /** The secret, when the seed gave neither it nor its hash (shown once). */
  mintedSecret: string | undefined;
}

export class SeedRestore {
  /** Blobs written so far: removed again if the seed fails as a whole. */
  readonly written: string[] = [];

  constructor(
    private readonly tx: MetadataView<RestorePorts>,
    private readonly blobs: BlobStore,
    private readonly limits: MediaLimits,
    private readonly now: () => number,
  ) {}

  async clientExists(id: string): Promise<boolean> {
    return (await this.tx.oauth.getClient(id)) !== undefined;
  }

  async client(
    orgId: string,
    c: { id?: string | undefined; name: string; userId: string; secret?: string | undefined; secretHash?: string | undefined; createdAt?: number | undefined },
  ): Promise<RestoredClient> {
    const id = c.id ?? newClientId();
    const secret = secretHash('secret', c.secret, c.secretHash);
    await this.tx.oauth.insertClient({ id, orgId, userId: c.userId, name: c.name.trim() || 'Self Client', secretHash: secret.hash, createdAt: c.createdAt ?? this.now() });
    return { id, mintedSecret: secret.minted };
  }

  async grantCode(
    orgId: string,
    clientId: string,
    g: { code?: string | undefined; codeHash?: string | undefined; userId: string; scopes: string; expiresAt: number; usedAt: number | null; createdAt?: number | undefined },
  ): Promise<void> {
    if (g.code === undefined && g.codeHash === undefined) invalid('grant_codes.code', 'give the code or its hash');
    const { hash } = secretHash('grant_codes.code', g.code, g.codeHash);
    if (await this.tx.oauth.getGrantCode(hash)) return;
    await this.tx.oauth.insertGrantCode({
      codeHash: hash,
      clientId,
      orgId,
      userId: g.userId,
      scopes: scopesOf('grant_codes.scopes', g.scopes),
      expiresAt: g.expiresAt,
      usedAt: g.usedAt,
      createdAt: g.createdAt ?? this.now(),
    });
  }

  async refreshToken(
    orgId: string,
    clientId: string,
    r: { id?: string | undefined; value?: string | undefined; tokenHash?: string | undefined; userId: string; scopes: string; revokedAt: number | null; createdAt?: number | undefined },
  ): Promise<void> {
    if (r.value === undefined && r.tokenHash === undefined) invalid('refresh_tokens.value', 'give the value or its hash');
    if (r.id !== undefined && !isZohoId(r.id)) invalid('refresh_tokens.id', 'must be a string of up to 19 digits');
    const { hash } = secretHash('refresh_tokens.value', r.value, r.tokenHash);
    if (await this.tx.oauth.findRefreshToken(hash)) return;
    await this.tx.oauth.insertRefreshToken({
      id: r.id ?? newZohoId(),
      tokenHash: hash,
      clientId,
      orgId,
      userId: r.userId,
      scopes: scopesOf('refresh_tokens.scopes', r.scopes),
      revokedAt: r.revokedAt,
      createdAt: r.createdAt ?? this.now(),
    });
  }

  /** A record's photo from its bytes: the type, width and height are read from them, under the upload limits. */
  async photo(record: CrmRecord, p: { fileName: string; bytes: Buffer; createdBy: string; createdAt?: number | undefined }): Promise<void> {
    if (p.bytes.length === 0) invalid('photo.content_base64', 'empty');
    if (p.bytes.length > this.limits.photoMaxBytes) invalid('photo.content_base64', `larger than ${this.limits.photoMaxBytes} bytes`);
    let info;
    try {
      info = probeImage(p.bytes);
    } catch (err) {
      if (err instanceof ImageProbeError) invalid('photo.content_base64', 'not a PNG, JPEG, GIF or BMP image');
      throw err;
    }
    if (info.width * info.height > this.limits.photoMaxPixels) invalid('photo.content_base64', `more than ${this.limits.photoMaxPixels} pixels`);
    const key = await this.put(p.bytes);
    await this.tx.photos.upsert({
      orgId: record.orgId,
      recordId: record.id,
      blobKey: key,
      fileName: cleanFileName(p.fileName, `photo.${info.extension}`),
      contentType: info.mimeType,
      size: p.bytes.length,
      width: info.width,
      height: info.height,
      sha256: this.sha256(p.bytes),
      createdBy: p.createdBy,
      createdAt: p.createdAt ?? this.now(),
    });
  }

  async attachment(
    record: CrmRecord,
    a: {
      id?: string | undefined;
      fileName: string;
      title: string | null;
      linkUrl: string | null;
      contentType: string | null;
      bytes: Buffer | undefined;
      ownerId: string;
      createdBy: string;
      createdAt?: number | undefined;
      modifiedBy: string;
      modifiedAt?: number | undefined;
    },
  ): Promise<void> {
    if (a.id !== undefined && !isZohoId(a.id)) invalid('attachments.id', 'must be a string of up to 19 digits');
    if (a.id !== undefined && (await this.tx.attachments.get(record.orgId, record.id, a.id))) return;
    const isLink = a.linkUrl !== null;
    if (isLink === (a.bytes !== undefined)) invalid('attachments', 'a file (content_base64) or a link (link_url), not both');
    if (isLink && !isHttpLink(a.linkUrl!)) invalid('attachments.link_url', 'an absolute http(s) URL');
    if (a.bytes && a.bytes.length > this.limits.attachmentMaxBytes) invalid('attachments.content_base64', `larger than ${this.limits.attachmentMaxBytes} bytes`);
    const createdAt = a.createdAt ?? this.now();
    const fileName = cleanFileName(a.fileName, 'attachment');
    const attachment: Attachment = {
      id: a.id ?? newZohoId(),
      orgId: record.orgId,
      recordId: record.id,
      module: record.module,
      kind: isLink ? 'link' : 'file',
      fileName,
      title: a.title,
      linkUrl: a.linkUrl,
      contentType: isLink ? a.contentType : contentTypeFor(a.contentType ?? undefined, fileName),
      size: a.bytes?.length ?? 0,
      blobKey: a.bytes ? await this.put(a.bytes) : null,
      sha256: a.bytes ? this.sha256(a.bytes) : null,
      ownerId: a.ownerId,
      createdBy: a.createdBy,
      createdAt,
      modifiedBy: a.modifiedBy,
      modifiedAt: a.modifiedAt ?? createdAt,
    };
    await this.tx.attachments.insert(attachment);
  }

  /** After the seed failed: the bytes it wrote go again (no row points at them). */
  async discard(): Promise<void> {
    for (const key of this.written.splice(0)) await this.blobs.delete(key).catch(() => {});
  }

  private async put(bytes: Buffer): Promise<string> {
    const { key } = await this.blobs.put(Readable.from([bytes])).catch(rethrowStoreFull);
    this.written.push(key);
    return key;
  }

  private sha256(bytes: Buffer): string | null {
    return this.limits.contentHash ? createHash('sha256').update(bytes).digest('hex') : null;
  }
}
