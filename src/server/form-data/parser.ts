/**
 * A streaming multipart/form-data parser with busboy 1.6's behaviour (the tests hold it to the same events on any
 * form, cut anywhere) and a native delimiter search.
 *
 * Events: `file` (name, stream, { filename, encoding, mimeType }), `field` (name, value, { nameTruncated,
 * valueTruncated, encoding, mimeType }), `filesLimit`, `fieldsLimit`, `partsLimit` (once each), `error`, and `close`
 * once the form has ended and every file stream has been read to its end.
 *
 * How the body is read. The delimiter splits it into runs (delimiter.ts). After a delimiter, `--` ends the form and
 * CRLF begins a part's header block; anything else makes the bytes up to the next delimiter unused. The header block
 * (header-block.ts) decides what the bytes after it are: a file, a field, or nothing. Parts, fields and files are
 * counted against their limits. These rules are busboy's and matter only for malformed bodies, kept so that both
 * parsers agree on them:
 *  - a header block does not end at a delimiter: it goes on reading after it (and the check after that delimiter
 *    waits for the block to end; it is forgotten if a run ends inside a header value meanwhile);
 *  - a run whose bytes leave the check after a delimiter undecided (a lone `-` or CR) hides the delimiter that ends it;
 *  - a malformed header block, or a part beyond the parts limit, makes the rest of the run unused;
 *  - the rest of the chunk that holds the closing delimiter is still read as parts; later chunks are not.
 * One case differs: a form that ends inside a file (possible only through the first two rules) fails with an error,
 * where busboy would wait for ever for that file to end.
 */
import { Writable } from 'node:stream';
import { decodeText } from './charsets.js';
import { DelimiterScanner } from './delimiter.js';
import { FileStream } from './file-stream.js';
import { HeaderBlockReader, type HeaderFields, MALFORMED, NEEDS_MORE } from './header-block.js';
import { fileBaseName, parseDisposition, parseMediaType } from './header-values.js';

export interface FormDataOptions {
  /** The request's Content-Type header (must be multipart/form-data with a boundary). */
  contentType: string | undefined;
  limits: FormDataLimits;
  /** Charset of header parameters without one of their own (`filename="…"`); busboy's `defParamCharset`. */
  paramCharset: string;
}

export interface FormDataLimits {
  /** Bytes of one file; the bytes beyond are dropped and the stream is marked `truncated`. */
  fileSize: number;
  files: number;
  fields: number;
  parts: number;
  /** Bytes of one field value; beyond, the value is cut and marked `valueTruncated`. */
  fieldSize: number;
}

export interface FileInfo {
  filename: string | undefined;
  encoding: string;
  mimeType: string;
}

export interface FieldInfo {
  nameTruncated: boolean;
  valueTruncated: boolean;
  encoding: string;
  mimeType: string;
}

/** Where the check of the bytes after a delimiter stands. */
const enum After {
  Nothing,
  Delimiter,
  Dash,
  Cr,
}

const DASH = Buffer.from('-');
const CR = Buffer.from('\r');

interface OpenFile {
  kind: 'file';
  stream: FileStream;
  size: number;
  full: boolean;
}

interface OpenField {
  kind: 'field';
  name: string | undefined;
  chunks: Buffer[];
  size: number;
  full: boolean;
  charset: string;
  info: Omit<FieldInfo, 'valueTruncated'>;
}

type Limited = 'file' | 'field';
const LIMIT_EVENT: Record<Limited, string> = { file: 'filesLimit', field: 'fieldsLimit' };

export class FormDataParser extends Writable {
  private readonly limits: FormDataLimits;
  private readonly paramCharset: string;
  private readonly scanner: DelimiterScanner;
  private readonly headerReader = new HeaderBlockReader();
  /** Reading a part's header block. */
  private inHeader = false;
  private after = After.Nothing;
  /** The part whose bytes come now; null when they go nowhere. */
  private part: OpenFile | OpenField | null = null;
  /** Delimiters seen, less one: the first opens the first part. */
  private partsEnded = -1;
  private readonly taken: Record<Limited, number> = { file: 0, field: 0 };
  private readonly limitReported: Record<Limited, boolean> = { file: false, field: false };
  /** The closing delimiter has been seen; later writes are ignored. */
  private ended = false;
  private openFiles = 0;
  private pendingWrite: (() => void) | null = null;
  private whenFilesEnd: (() => void) | null = null;

  constructor(opts: FormDataOptions) {
    super({ autoDestroy: true, emitClose: true });
    if (typeof opts.contentType !== 'string') throw new Error('Missing Content-Type');
    const type = parseMediaType(opts.contentType);
    if (!type) throw new Error('Malformed content type');
    if (type.type !== 'multipart' || type.subtype !== 'form-data') throw new Error(`Unsupported content type: ${opts.contentType}`);
    const boundary = type.params.boundary;
    if (boundary === undefined) throw new Error('Multipart: Boundary not found');
    this.limits = opts.limits;
    this.paramCharset = opts.paramCharset;
    // UTF-8, as busboy: a boundary with bytes beyond ASCII then never matches, in both parsers.
    this.scanner = new DelimiterScanner(Buffer.from(`\r\n--${boundary}`), (data, start, end, atDelimiter) => this.onRun(data, start, end, atDelimiter));
    // The first delimiter may open the body without a CRLF before it.
    this.scanner.write(Buffer.from('\r\n'));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.ended) return callback();
    this.pendingWrite = callback;
    this.scanner.write(chunk);
    const pending = this.pendingWrite;
    this.pendingWrite = null;
    pending?.();
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.ended) {
      this.scanner.flush();
      return callback(new Error('Unexpected end of form'));
    }
    if (this.part?.kind === 'file') {
      // The form ended inside a file (a header block that went on past a delimiter opened it): no delimiter will
      // end this file now. busboy waits for it for ever; this parser fails the form.
      const error = new Error('Unexpected end of file');
      this.part.stream.destroy(error);
      this.part = null;
      return callback(error);
    }
    const finish = () => callback(this.endStateError());
    if (this.openFiles > 0) this.whenFilesEnd = finish;
    else finish();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.inHeader = false;
    const error = err ?? this.endStateError();
    // Later writes are ignored.
    this.ended = true;
    if (this.part?.kind === 'file') this.part.stream.destroy(error);
    this.part = null;
    callback(error);
  }

  private endStateError(): Error | undefined {
    if (this.inHeader) return new Error('Malformed part header');
    if (this.part?.kind === 'file') {
      this.part.stream.destroy(new Error('Unexpected end of file'));
      this.part = null;
    }
    return this.ended ? undefined : new Error('Unexpected end of form');
  }

  private onRun(data: Buffer | null, start: number, end: number, atDelimiter: boolean): void {
    if (data !== null && start < end && !this.consume(data, start, end)) return;
    if (atDelimiter) this.onDelimiter();
  }

  /** Reads one run; false when the delimiter after it, if any, is to be disregarded. */
  private consume(data: Buffer, start: number, end: number): boolean {
    let at = start;
    for (;;) {
      if (this.inHeader) {
        const next = this.headerReader.push(data, at, end);
        if (next === MALFORMED) {
          this.inHeader = false;
          this.headerReader.reset();
          this.emit('error', new Error('Malformed part header'));
          return true;
        }
        if (next === NEEDS_MORE) {
          if (this.headerReader.insideValue && this.after === After.Delimiter) this.after = After.Nothing;
          return true;
        }
        this.inHeader = false;
        const fields = this.headerReader.result;
        this.headerReader.reset();
        this.beginPart(fields);
        at = next;
        if (at === end) return true;
      }
      if (this.after === After.Delimiter) {
        const b = data[at];
        this.after = b === 45 /* '-' */ ? After.Dash : b === 13 ? After.Cr : After.Nothing;
        if (this.after !== After.Nothing && ++at === end) return false;
      }
      if (this.after === After.Dash) {
        this.after = After.Nothing;
        if (data[at] === 45) {
          // The closing delimiter; whatever follows is the epilogue.
          this.ended = true;
          return false;
        }
        this.deliver(DASH, 0, 1, false);
      } else if (this.after === After.Cr) {
        this.after = After.Nothing;
        if (data[at] === 10) {
          at++;
          if (this.partsEnded >= this.limits.parts) return true;
          this.inHeader = true;
          if (at === end) return true;
          continue;
        }
        this.deliver(CR, 0, 1, false);
      }
      this.deliver(data, at, end, true);
      return true;
    }
  }

  /** Hands body bytes to the open part; `mayWait`: the write may be held while a file's reader is behind. */
  private deliver(data: Buffer, start: number, end: number, mayWait: boolean): void {
    const part = this.part;
    if (part === null || part.full) return;
    if (part.kind === 'file') {
      const take = Math.min(end - start, this.limits.fileSize - part.size);
      part.size += take;
      const bytes = data.subarray(start, start + take);
      if (part.size === this.limits.fileSize) {
        if (take > 0) part.stream.push(bytes);
        part.stream.emit('limit');
        part.stream.truncated = true;
        part.full = true;
      } else if (!part.stream.push(bytes) && mayWait && this.pendingWrite) {
        part.stream.holdWrite(this.pendingWrite);
        this.pendingWrite = null;
      }
    } else {
      const take = Math.min(end - start, this.limits.fieldSize - part.size);
      part.size += take;
      part.chunks.push(data.subarray(start, start + take));
      if (part.size === this.limits.fieldSize) part.full = true;
    }
  }

  private onDelimiter(): void {
    this.after = After.Delimiter;
    const part = this.part;
    this.part = null;
    if (part?.kind === 'file') {
      part.stream.push(null);
    } else if (part?.kind === 'field') {
      const bytes = part.chunks.length === 1 ? part.chunks[0]! : Buffer.concat(part.chunks, part.size);
      const value = decodeText(bytes, part.charset);
      this.emit('field', part.name, value, { ...part.info, valueTruncated: part.full } satisfies FieldInfo);
    }
    if (++this.partsEnded === this.limits.parts) this.emit('partsLimit');
  }

  /** A header block has ended: what its part is, and whether it is read. */
  private beginPart(fields: HeaderFields): void {
    this.part = null;
    const dispositionText = fields.get('content-disposition');
    const disposition = dispositionText === undefined ? undefined : parseDisposition(dispositionText, this.paramCharset);
    if (disposition?.type !== 'form-data') return;
    const name = disposition.params.name || undefined;
    const rawFileName = disposition.params['filename*'] || disposition.params.filename || undefined;
    const filename = rawFileName === undefined ? undefined : fileBaseName(rawFileName);
    let mimeType = 'text/plain';
    let charset = 'utf8';
    const typeText = fields.get('content-type');
    const type = typeText === undefined ? undefined : parseMediaType(typeText);
    if (type) {
      mimeType = `${type.type}/${type.subtype}`;
      if (type.params.charset !== undefined) charset = type.params.charset.toLowerCase();
    }
    const encoding = fields.get('content-transfer-encoding')?.toLowerCase() ?? '7bit';

    if (mimeType === 'application/octet-stream' || filename !== undefined) {
      if (!this.admit('file')) return;
      this.openFiles++;
      const stream = new FileStream(() => this.fileEnded());
      this.part = { kind: 'file', stream, size: 0, full: false };
      this.emit('file', name, stream, { filename, encoding, mimeType } satisfies FileInfo);
    } else {
      if (!this.admit('field')) return;
      this.part = { kind: 'field', name, chunks: [], size: 0, full: false, charset, info: { nameTruncated: false, encoding, mimeType } };
    }
  }

  /** Counts a part against its kind's limit (reported once) and says whether it is read: someone listens for it. */
  private admit(kind: Limited): boolean {
    if (this.taken[kind] === (kind === 'file' ? this.limits.files : this.limits.fields)) {
      if (!this.limitReported[kind]) {
        this.limitReported[kind] = true;
        this.emit(LIMIT_EVENT[kind]);
      }
      return false;
    }
    this.taken[kind]++;
    return this.listenerCount(kind) > 0;
  }

  private fileEnded(): void {
    if (--this.openFiles === 0 && this.whenFilesEnd) {
      const finish = this.whenFilesEnd;
      this.whenFilesEnd = null;
      // Other 'end' listeners run before the form finishes.
      process.nextTick(finish);
    }
  }
}
