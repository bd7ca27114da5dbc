/**
 * The values of a part's Content-Type and Content-Disposition headers (RFC 7231 media types, RFC 6266 / RFC 7578
 * dispositions with RFC 5987 `name*=charset'lang'%XX` values), read as busboy reads them: a value that breaks the
 * grammar anywhere gives nothing at all, and inside a quoted string a backslash escapes only `\` and `"` (before any
 * other character it stays, so `C:\Users\me\a.png` keeps its backslashes and its base name is `a.png`).
 */
import { decodeText } from './charsets.js';

export type Params = Record<string, string>;

const charTable = (chars: string, alnum = true): Uint8Array => {
  const t = new Uint8Array(256);
  for (const ch of chars) t[ch.charCodeAt(0)] = 1;
  if (alnum) for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') t[ch.charCodeAt(0)] = 1;
  return t;
};
/** RFC 7230 tchar. */
const TOKEN = charTable("!#$%&'*+-.^_`|~");
/** RFC 5987 mime-charset characters. */
const CHARSET = charTable('!#$%&+-^_`{}~');
/** RFC 5987 attr-char: what an extended value holds unencoded. */
const ATTR = charTable('!#$&+-.^_`|~');
const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
/** Characters a quoted string may hold as they are: no control character but HT. */
const isQdtext = (c: number): boolean => c === 9 || (c >= 32 && c !== 127);

const SPACE = 32;
const TAB = 9;

/** A position in a header value (a Latin-1 string: one character per byte). */
class Cursor {
  constructor(
    readonly text: string,
    public at = 0,
  ) {}

  get atEnd(): boolean {
    return this.at >= this.text.length;
  }

  code(): number {
    return this.text.charCodeAt(this.at);
  }

  /** Consumes characters of `table`; returns them. */
  take(table: Uint8Array): string {
    const from = this.at;
    while (!this.atEnd && table[this.code()] === 1) this.at++;
    return this.text.slice(from, this.at);
  }

  skipSpaces(): void {
    while (!this.atEnd && (this.code() === SPACE || this.code() === TAB)) this.at++;
  }

  /** A quoted string's content, the cursor on its opening quote; undefined when unterminated or malformed. */
  quoted(): string | undefined {
    const s = this.text;
    let out = '';
    for (let i = this.at + 1; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34 /* '"' */) {
        this.at = i + 1;
        return out;
      }
      if (c === 92 /* '\' */) {
        const next = s.charCodeAt(++i);
        if (Number.isNaN(next)) return undefined;
        if (next === 92 || next === 34) {
          out += s[i];
          continue;
        }
        if (!isQdtext(next)) return undefined;
        out += `\\${s[i]}`;
        continue;
      }
      if (!isQdtext(c)) return undefined;
      out += s[i];
    }
    return undefined;
  }

  /** A token or a quoted string; undefined when neither (an empty token included). */
  plainValue(): string | undefined {
    if (this.code() === 34) return this.quoted();
    const token = this.take(TOKEN);
    return token === '' ? undefined : token;
  }

  /** RFC 5987 `charset'language'value`, percent-decoded and decoded in that charset. */
  extendedValue(): string | undefined {
    const charset = this.take(CHARSET);
    if (this.atEnd || this.code() !== 39 /* "'" */) return undefined;
    const languageEnd = this.text.indexOf("'", this.at + 1);
    if (languageEnd === -1) return undefined;
    this.at = languageEnd + 1;
    if (this.atEnd) return undefined;
    const bytes: number[] = [];
    while (!this.atEnd) {
      const c = this.code();
      if (ATTR[c] === 1) {
        bytes.push(c);
        this.at++;
      } else if (c === 37 /* '%' */) {
        const hi = hexValue(this.text.charCodeAt(this.at + 1));
        const lo = hexValue(this.text.charCodeAt(this.at + 2));
        if (hi < 0 || lo < 0) return undefined;
        bytes.push((hi << 4) | lo);
        this.at += 3;
      } else {
        break;
      }
    }
    return decodeText(Buffer.from(bytes), charset);
  }

  /**
   * `*(OWS ";" OWS name "=" value)` to the end; names lowercased, the first of a name kept. `valueOf` reads the
   * value after the `=` of the named parameter.
   */
  params(valueOf: (name: string) => string | undefined): Params | undefined {
    const params: Params = Object.create(null) as Params;
    for (;;) {
      this.skipSpaces();
      if (this.atEnd) return params;
      if (this.code() !== 59 /* ';' */) return undefined;
      this.at++;
      this.skipSpaces();
      const name = this.take(TOKEN);
      if (this.atEnd || this.code() !== 61 /* '=' */) return undefined;
      this.at++;
      if (this.atEnd) return undefined;
      const value = valueOf(name);
      if (value === undefined) return undefined;
      const key = name.toLowerCase();
      if (params[key] === undefined) params[key] = value;
    }
  }
}

export interface MediaType {
  type: string;
  subtype: string;
  params: Params;
}

/** `type/subtype *(; name=value)`, type and subtype lowercased. */
export function parseMediaType(text: string): MediaType | undefined {
  const c = new Cursor(text);
  const type = c.take(TOKEN);
  if (type === '' || c.atEnd || c.code() !== 47 /* '/' */) return undefined;
  c.at++;
  const subtype = c.take(TOKEN);
  if (subtype === '') return undefined;
  const params = c.params(() => c.plainValue());
  return params && { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params };
}

export interface Disposition {
  type: string;
  params: Params;
}

/**
 * `type *(; name=value)`, the type lowercased (it may be empty). A `name*` parameter is an RFC 5987 extended value;
 * any other value is decoded from its bytes in `paramCharset`.
 */
export function parseDisposition(text: string, paramCharset: string): Disposition | undefined {
  if (text.length === 0) return undefined;
  const c = new Cursor(text);
  const type = c.take(TOKEN);
  const params = c.params((name) => {
    if (name.endsWith('*')) return c.extendedValue();
    const raw = c.plainValue();
    return raw === undefined ? undefined : decodeText(Buffer.from(raw, 'latin1'), paramCharset);
  });
  return params && { type: type.toLowerCase(), params };
}

/** What follows the last `/` or `\` of a client's file name; never `.` or `..`. */
export function fileBaseName(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  return base === '.' || base === '..' ? '' : base;
}
