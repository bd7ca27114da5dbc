/**
 * Splits a byte stream at a multipart delimiter (`\r\n--boundary`) with Buffer#indexOf, which searches in native
 * code: busboy's Boyer-Moore-Horspool loop in JavaScript makes it spend two to nine times this parser's CPU per MiB
 * (bench/form-data-parsers.mjs).
 *
 * The stream comes out as runs: the bytes between two delimiters, each flagged with whether a delimiter ends it.
 * A run is handed over as a slice of the chunk it lies in, so one stretch of bytes between delimiters may come as
 * several runs; the parser's rules depend on that split in a few corner cases, so it is part of the contract: within
 * a chunk, the bytes before a delimiter travel with it; bytes held back at the end of one chunk (they might begin a
 * delimiter) travel alone when the next chunk shows they do not.
 */

/** `data[start, end)` are body bytes (none when `data` is null); `atDelimiter`: a delimiter follows them. */
export type RunHandler = (data: Buffer | null, start: number, end: number, atDelimiter: boolean) => void;

const CR = 13;

export class DelimiterScanner {
  /**
   * How many of the delimiter's first bytes ended the input so far. A delimiter holds one CR, its first byte, so
   * two occurrences cannot overlap and the held bytes are always a prefix of the delimiter itself: they need no
   * buffer of their own.
   */
  private held = 0;

  constructor(
    private readonly delimiter: Buffer,
    private readonly onRun: RunHandler,
  ) {
    if (delimiter.length < 2 || delimiter[0] !== CR || delimiter.indexOf(CR, 1) !== -1) {
      throw new Error('a delimiter starts with a CR and holds no other');
    }
  }

  write(chunk: Buffer): void {
    let pos = this.held > 0 ? this.continueHeld(chunk) : 0;
    if (pos < 0) return;
    const d = this.delimiter;
    for (let at = chunk.indexOf(d, pos); at !== -1; at = chunk.indexOf(d, pos)) {
      this.onRun(at > pos ? chunk : null, pos, at, true);
      pos = at + d.length;
    }
    const keepFrom = this.startOfPartialDelimiter(chunk, pos);
    if (keepFrom > pos) this.onRun(chunk, pos, keepFrom, false);
    this.held = chunk.length - keepFrom;
  }

  /** At the end of the input, bytes held back are body bytes after all. */
  flush(): void {
    const held = this.held;
    this.held = 0;
    if (held > 0) this.onRun(this.delimiter, 0, held, false);
  }

  /** Where scanning `chunk` starts once the held bytes are settled; -1 when the whole chunk is held too. */
  private continueHeld(chunk: Buffer): number {
    const d = this.delimiter;
    const wanted = d.length - this.held;
    const seen = Math.min(wanted, chunk.length);
    if (chunk.compare(d, this.held, this.held + seen, 0, seen) !== 0) {
      this.flush();
      return 0;
    }
    if (seen < wanted) {
      this.held += seen;
      return -1;
    }
    this.held = 0;
    this.onRun(null, 0, 0, true);
    return wanted;
  }

  /** The start of the chunk's longest tail (from `from` on) that is a proper prefix of the delimiter; else its end. */
  private startOfPartialDelimiter(chunk: Buffer, from: number): number {
    const d = this.delimiter;
    const len = chunk.length;
    for (let cr = chunk.indexOf(CR, Math.max(from, len - d.length + 1)); cr !== -1; cr = chunk.indexOf(CR, cr + 1)) {
      if (chunk.compare(d, 0, len - cr, cr, len) === 0) return cr;
    }
    return len;
  }
}
