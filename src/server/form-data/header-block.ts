/**
 * A part's header block (RFC 7230 field syntax, obsolete line folding accepted), read incrementally: the bytes may
 * come in any number of pieces, and the first byte that breaks the syntax is reported at once, as busboy does.
 */

/** The block holds at most this many bytes (busboy's bound; it counts a few bytes twice, so its is a little lower). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Fields kept from one block; further ones are read but dropped (busboy keeps 1999). */
const MAX_FIELDS = 1999;

export const MALFORMED = -1;
export const NEEDS_MORE = -2;

const enum At {
  Name,
  BeforeValue,
  Value,
  ValueCr,
  LineStart,
  EndCr,
}

const table = (allowed: (c: number) => boolean): Uint8Array => Uint8Array.from({ length: 256 }, (_, c) => (allowed(c) ? 1 : 0));
/** RFC 7230 tchar. */
const NAME_BYTE = table((c) => c > 32 && c < 127 && !'"(),/:;<=>?@[\\]{}'.includes(String.fromCharCode(c)));
/** field-vchar, SP, HT and obs-text. */
const VALUE_BYTE = table((c) => c === 9 || (c >= 32 && c !== 127));
const LATIN1 = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));

export type HeaderFields = ReadonlyMap<string, string>;

export class HeaderBlockReader {
  private at = At.Name;
  private size = 0;
  private count = 0;
  private name = '';
  private value = '';
  /** The first value of each field name (lowercased). */
  private fields = new Map<string, string>();

  /** True when the bytes so far ended inside a field value (the parser has a rule that depends on it). */
  get insideValue(): boolean {
    return this.at === At.Value;
  }

  /**
   * Reads `data[start, end)`. Returns the index just after the block's blank line (`fields` then holds the block),
   * NEEDS_MORE when every byte was read and the block goes on, or MALFORMED.
   */
  push(data: Buffer, start: number, end: number): number {
    for (let i = start; i < end; i++) {
      if (++this.size > MAX_HEADER_BYTES) return MALFORMED;
      const b = data[i]!;
      if (this.at === At.LineStart) {
        if (b === 32 || b === 9) {
          // A folded line: the value goes on, this space included.
          this.value += LATIN1[b];
          this.at = At.Value;
          continue;
        }
        this.keepField();
        // A CR ends the block; anything else begins the next field's name.
        this.at = b === 13 ? At.EndCr : At.Name;
        if (b === 13) continue;
      } else if (this.at === At.BeforeValue) {
        if (b === 32 || b === 9) continue;
        this.at = At.Value;
      }
      switch (this.at) {
        case At.Name:
          if (NAME_BYTE[b] === 1) this.name += LATIN1[b];
          else if (b === 58 /* ':' */ && this.name !== '') this.at = At.BeforeValue;
          else return MALFORMED;
          break;
        case At.Value:
          if (VALUE_BYTE[b] === 1) this.value += LATIN1[b];
          else if (b === 13) this.at = At.ValueCr;
          else return MALFORMED;
          break;
        case At.ValueCr:
          if (b !== 10) return MALFORMED;
          this.at = At.LineStart;
          break;
        case At.EndCr:
          return b === 10 ? i + 1 : MALFORMED;
      }
    }
    return NEEDS_MORE;
  }

  /** The block just read (after push returned an index). */
  get result(): HeaderFields {
    return this.fields;
  }

  reset(): void {
    this.at = At.Name;
    this.size = 0;
    this.count = 0;
    this.name = '';
    this.value = '';
    this.fields = new Map();
  }

  private keepField(): void {
    if (++this.count <= MAX_FIELDS) {
      const name = this.name.toLowerCase();
      if (!this.fields.has(name)) this.fields.set(name, this.value);
    }
    this.name = '';
    this.value = '';
  }
}
