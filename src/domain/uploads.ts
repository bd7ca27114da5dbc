/**
 * What an upload request's body looks like to the rules: a sequence of parts, in order. The HTTP adapter turns a
 * multipart body into this; a file part's bytes must be read (or left alone, which discards them) before the next
 * part arrives.
 */
import type { Readable } from 'node:stream';
import { isZohoError, type ZohoError, zohoError } from './errors.js';
import type { OperationName } from './operations.js';

export interface FilePart {
  kind: 'file';
  /** The form field name (`file` for Zoho's endpoints). */
  name: string;
  /** The filename the client gave, if any (the official SDK sends none for in-memory buffers). */
  fileName: string | undefined;
  /** The part's declared Content-Type: a hint at most, never trusted for photos. */
  declaredType: string | undefined;
  stream: Readable;
}

export interface FieldPart {
  kind: 'field';
  name: string;
  value: string;
}

export type UploadPart = FilePart | FieldPart;

export type UploadBody = AsyncIterable<UploadPart>;

/** A safe display name: no path, no control characters, bounded length. */
export function cleanFileName(name: string | undefined, fallback: string): string {
  if (!name) return fallback;
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base.replace(/[\x00-\x1f\x7f]/g, '').trim().slice(0, 255);
  return cleaned.length > 0 && cleaned !== '.' && cleaned !== '..' ? cleaned : fallback;
}

/**
 * A failure of a part's byte stream is the client's doing (a body cut short, broken framing, a disconnect), so it
 * is answered as a malformed request, never as the server's own failure.
 */
export function clientBodyError(err: unknown): ZohoError {
  return isZohoError(err) ? err : notMultipart();
}

/** An upload that is not a readable multipart/form-data request. */
export function notMultipart(operation?: OperationName): ZohoError {
  return zohoError('INVALID_REQUEST', { expected_type: 'Multipart Form Request' }, operation);
}
