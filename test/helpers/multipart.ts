/**
 * Multipart bodies built by hand, so that tests control every byte: part names, filenames, part types, several
 * files, malformed framing, and bodies streamed chunked without a Content-Length.
 */
import { randomBytes } from 'node:crypto';

export interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

export interface MultipartBody {
  contentType: string;
  body: Buffer;
}

function partHeader(boundary: string, p: Pick<Part, 'name' | 'filename' | 'contentType'>): string {
  let h = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
  if (p.filename !== undefined) h += `; filename="${p.filename}"`;
  h += '\r\n';
  if (p.contentType) h += `Content-Type: ${p.contentType}\r\n`;
  return `${h}\r\n`;
}

export function multipart(parts: Part[], boundary = `----test${randomBytes(8).toString('hex')}`): MultipartBody {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(partHeader(boundary, p)), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

/** One `file` part: the usual upload. */
export function filePart(data: Buffer | string, filename = 'file.bin', contentType = 'application/octet-stream'): MultipartBody {
  return multipart([{ name: 'file', filename, contentType, data }]);
}

/**
 * A single `file` part whose content is `size` bytes produced lazily in `chunkSize` pieces, starting with `head`:
 * sent as an async iterable, undici uses chunked transfer encoding (no Content-Length).
 */
export function streamedFilePart(
  head: Buffer,
  size: number,
  chunkSize = 64 * 1024,
  filename = 'big.png',
): { contentType: string; body: AsyncIterable<Buffer> } {
  const boundary = `----stream${randomBytes(8).toString('hex')}`;
  async function* generate(): AsyncIterable<Buffer> {
    yield Buffer.from(partHeader(boundary, { name: 'file', filename, contentType: 'image/png' }));
    let sent = 0;
    const first = head.subarray(0, Math.min(head.length, size));
    yield first;
    sent += first.length;
    const filler = Buffer.alloc(chunkSize);
    while (sent < size) {
      const n = Math.min(chunkSize, size - sent);
      yield n === chunkSize ? filler : filler.subarray(0, n);
      sent += n;
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: generate() };
}
