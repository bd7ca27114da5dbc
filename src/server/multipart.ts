/**
 * A multipart/form-data request body as an async sequence of parts (domain/uploads.ts), parsed while the bytes
 * arrive (form-data/). A file part's stream must be consumed before the next part is produced; one left
 * unread is discarded. Limits on part counts and field sizes bound what the parser holds; file size limits belong to
 * the consumer, which sees every byte as it arrives.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { type FieldInfo, type FileInfo, type FileStream, FormDataParser } from './form-data/index.js';
import { zohoError } from '../domain/errors.js';
import { type UploadBody, type UploadPart, notMultipart } from '../domain/uploads.js';

export interface MultipartLimits {
  /** Hard ceiling for one file part; the consumer normally enforces a lower one first. */
  maxFileBytes: number;
  /** The whole body must have arrived within this many ms, else the consumer fails with REQUEST_TIMEOUT. */
  deadlineMs?: number;
}

const MAX_FIELD_BYTES = 8 * 1024;
const MAX_FIELDS = 16;
const MAX_PARTS = 24;
const MAX_FILES = 4;

export function isMultipart(contentType: string | undefined): boolean {
  return contentType !== undefined && /^multipart\/form-data\s*(;|$)/i.test(contentType);
}

export class MultipartBody implements UploadBody {
  private readonly queue: UploadPart[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  private current: Readable | undefined;
  private readonly parser: FormDataParser;
  private readonly deadline: NodeJS.Timeout | undefined;
  /** Raw body bytes received so far (metrics). */
  bytesReceived = 0;

  constructor(private readonly req: IncomingMessage, limits: MultipartLimits) {
    try {
      this.parser = new FormDataParser({
        contentType: req.headers['content-type'],
        limits: {
          fileSize: limits.maxFileBytes + 1,
          files: MAX_FILES,
          fields: MAX_FIELDS,
          parts: MAX_PARTS,
          fieldSize: MAX_FIELD_BYTES,
        },
        // Browsers, curl and form-data send non-ASCII filenames as raw UTF-8 (busboy's default is Latin-1).
        paramCharset: 'utf8',
      });
    } catch {
      // No or malformed boundary.
      throw notMultipart();
    }
    const p = this.parser;
    p.on('file', (name: string | undefined, stream: FileStream, info: FileInfo) => {
      // The parser (as busboy) destroys a file stream with an error when the body is cut short, possibly before the
      // consumer has received the part; the parser's own 'error' reports that failure, so this listener only keeps
      // the stream's copy of it from going unheard.
      stream.on('error', () => {});
      // A part without a name (or a field in an unknown charset) comes as undefined, which the domain treats as a
      // name (or value) that matches nothing.
      this.push({ kind: 'file', name: name as string, fileName: info.filename, declaredType: info.mimeType, stream });
    });
    p.on('field', (name: string | undefined, value: string | undefined, info: FieldInfo) => {
      if (info.valueTruncated || info.nameTruncated) {
        this.fail(zohoError('INVALID_DATA', { param_name: name, maximum_length: MAX_FIELD_BYTES }));
        return;
      }
      this.push({ kind: 'field', name: name as string, value: value as string });
    });
    p.on('filesLimit', () => this.fail(zohoError('MORE_THAN_ONE_FILE')));
    p.on('fieldsLimit', () => this.fail(zohoError('INVALID_DATA', { limit: MAX_FIELDS, of: 'fields' })));
    p.on('partsLimit', () => this.fail(zohoError('INVALID_DATA', { limit: MAX_PARTS, of: 'parts' })));
    p.on('error', () => this.fail(notMultipart()));
    p.on('close', () => {
      clearTimeout(this.deadline);
      this.finished = true;
      this.signal();
    });
    if (limits.deadlineMs !== undefined) {
      this.deadline = setTimeout(() => this.fail(zohoError('REQUEST_TIMEOUT')), limits.deadlineMs);
      this.deadline.unref();
    }
    // A client that goes away mid-body must fail the consumer, not leave it waiting for bytes that never come.
    req.once('aborted', () => this.fail(new Error('client aborted the upload')));
    req.once('error', (err) => this.fail(err));
    req.pipe(p);
    // Counted after pipe() has put the request in flowing mode, so this listener takes nothing from the parser.
    req.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
    });
  }

  /** Stops parsing; the remaining body is the caller's to drain or drop. */
  stop(): void {
    clearTimeout(this.deadline);
    this.req.unpipe(this.parser);
    this.current?.resume();
    this.finished = true;
    this.signal();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<UploadPart> {
    for (;;) {
      if (this.failure) throw this.failure;
      const next = this.queue.shift();
      if (next) {
        if (next.kind === 'file') this.current = next.stream;
        yield next;
        // An unread part would stall the parser; whatever the consumer left is discarded.
        if (next.kind === 'file' && !next.stream.readableEnded) next.stream.resume();
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private push(part: UploadPart): void {
    if (this.failure) {
      if (part.kind === 'file') part.stream.resume();
      return;
    }
    this.queue.push(part);
    this.signal();
  }

  private fail(err: Error): void {
    if (this.failure || this.finished) return;
    clearTimeout(this.deadline);
    this.failure = err;
    // The consumer may be blocked reading the current file: fail that read too.
    if (this.current && !this.current.readableEnded) this.current.destroy(err);
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
