/**
 * Content types of attachments: the type recorded at upload, and the type served at download (which must be one
 * the official SDKs treat as a file).
 */

const TYPES_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  csv: 'text/csv',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  json: 'application/json',
  xml: 'application/xml',
  zip: 'application/zip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  html: 'text/html',
  htm: 'text/html',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
};

/** The type an attachment is served with: the part's declared type when well-formed, else from the extension. */
export function contentTypeFor(declared: string | undefined, fileName: string): string {
  const type = declared?.split(';')[0]?.trim().toLowerCase();
  if (type && /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(type) && type !== 'application/octet-stream') {
    return type;
  }
  const ext = fileName.includes('.') ? fileName.split('.').pop()!.toLowerCase() : '';
  return TYPES_BY_EXTENSION[ext] ?? 'application/octet-stream';
}

/**
 * Types the official SDKs (7.0 and 8.0) hand to their file downloader. Anything else comes back to them as JSON to
 * parse (application/json, and text/plain in 7.0) or as nothing at all, so an attachment of another type is served
 * as application/octet-stream; its name keeps the extension.
 */
const SDK_DOWNLOAD_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/tiff',
  'image/svg+xml',
  'image/bmp',
  'image/webp',
  'text/csv',
  'text/html',
  'text/css',
  'text/javascript',
  'text/calendar',
  'application/zip',
  'application/pdf',
  'application/javascript',
  'application/octet-stream',
  'application/xhtml+xml',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/gzip',
  'application/vnd.ms-powerpoint',
  'application/vnd.ms-excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'audio/mpeg',
  'video/mpeg',
  'video/mp4',
  'video/webm',
]);

export function servedContentType(stored: string | null): string {
  return stored && SDK_DOWNLOAD_TYPES.has(stored) ? stored : 'application/octet-stream';
}
