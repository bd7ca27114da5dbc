/**
 * Bytes to text in a charset named by a form (a part's `charset`, an RFC 5987 `filename*`), the way busboy reads
 * them: the labels below go to Node's own decoders (the Latin-1 family, Windows-1252 included, byte for byte), any
 * other to TextDecoder; a charset that neither knows gives no text at all.
 */

type Decode = (bytes: Buffer) => string;

const NATIVE = new Map<string, Decode>();
const define = (labels: string[], decode: Decode) => labels.forEach((l) => NATIVE.set(l, decode));
define(['utf-8', 'utf8'], (b) => b.toString('utf8'));
define(
  ['latin1', 'ascii', 'us-ascii', 'iso-8859-1', 'iso8859-1', 'iso88591', 'iso_8859-1', 'windows-1252', 'iso_8859-1:1987', 'cp1252', 'x-cp1252'],
  (b) => b.toString('latin1'),
);
define(['utf16le', 'utf-16le', 'ucs2', 'ucs-2'], (b) => b.toString('utf16le'));
define(['base64'], (b) => b.toString('base64'));

/** The text of `bytes` in `charset`; undefined when the charset is unknown (but empty bytes are always ''). */
export function decodeText(bytes: Buffer, charset: string): string | undefined {
  if (bytes.length === 0) return '';
  const native = NATIVE.get(charset) ?? NATIVE.get(charset.toLowerCase());
  if (native) return native(bytes);
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return undefined;
  }
}
