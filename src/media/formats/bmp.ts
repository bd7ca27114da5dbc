/**
 * BMP after "BM": the file header, then the DIB header (core, OS/2 2.x, INFO, V4 or V5), whose size and bit depth
 * must agree with its compression; uncompressed pixel rows must all be present.
 */
import { type ImageInfo, ImageProbeError, malformed } from '../image-info.js';
import { i32le, u16le, u32le } from './bytes.js';
import { FormatProbe } from './format-probe.js';

type State = 'file-head' | 'dib' | 'body';

const CORE_HEADER = 12;
const OS2_HEADER = 64;
const INFO_HEADERS: ReadonlySet<number> = new Set([40, 52, 56, 108, 124]);

interface Compression {
  /** Bits per pixel this compression allows. */
  bitCounts: readonly number[];
  /** Raw rows: the pixel array's size follows from the header, so a short file is truncated. */
  raw: boolean;
}

const ANY_DEPTH = [1, 4, 8, 16, 24, 32];
// BITMAPCOREHEADER knows neither compression nor 16/32-bit pixels.
const CORE_COMPRESSIONS: ReadonlyMap<number, Compression> = new Map([[0, { bitCounts: [1, 4, 8, 24], raw: true }]]);
// BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_ALPHABITFIELDS. BI_JPEG (4) and BI_PNG (5) are missing on purpose: the
// embedded stream carries its own header, which may give another size.
const INFO_COMPRESSIONS: ReadonlyMap<number, Compression> = new Map([
  [0, { bitCounts: ANY_DEPTH, raw: true }],
  [1, { bitCounts: [8], raw: false }],
  [2, { bitCounts: [4], raw: false }],
  [3, { bitCounts: [16, 32], raw: true }],
  [6, { bitCounts: [16, 32], raw: true }],
]);
// OS/2 2.x numbers its compressions differently: 3 is Huffman 1D (1 bit), 4 is RLE24.
const OS2_COMPRESSIONS: ReadonlyMap<number, Compression> = new Map([
  [0, { bitCounts: ANY_DEPTH, raw: true }],
  [1, { bitCounts: [8], raw: false }],
  [2, { bitCounts: [4], raw: false }],
  [3, { bitCounts: [1], raw: false }],
  [4, { bitCounts: [24], raw: false }],
]);

export class BmpProbe extends FormatProbe<State> {
  private dibSize = 0;
  private dataOffset = 0;
  private requiredLength = 0;

  constructor() {
    super('bmp', 'file-head', 16);
  }

  finish(bytesSeen: number): ImageInfo {
    return this.verdict(
      this.state === 'body' && bytesSeen >= this.requiredLength,
      this.state === 'body'
        ? `ends at byte ${bytesSeen} but its pixel data needs ${this.requiredLength} bytes`
        : 'ends before the end of its headers',
    );
  }

  protected onField(d: Uint8Array): void {
    switch (this.state) {
      case 'file-head':
        return this.onFileHeader(d);
      case 'dib':
        return this.onDibHeader(d);
      case 'body':
        return;
    }
  }

  /** `d` holds file bytes 2..17: file size, reserved, pixel-data offset, DIB header size. */
  private onFileHeader(d: Uint8Array): void {
    const dibSize = u32le(d, 12);
    if (dibSize !== CORE_HEADER && dibSize !== OS2_HEADER && !INFO_HEADERS.has(dibSize)) {
      // "BM" alone is weak evidence (plenty of text starts with it), so an unknown header
      // size means "not a BMP" rather than "broken BMP".
      throw new ImageProbeError('unsupported_format', `bmp: unknown DIB header size ${dibSize}`);
    }
    this.dibSize = dibSize;
    this.dataOffset = u32le(d, 8);
    if (this.dataOffset < 14 + dibSize) throw malformed('bmp: pixel data offset overlaps the headers');
    this.expect('dib', dibSize === CORE_HEADER ? 8 : 16);
  }

  /** `d` holds the DIB header from byte 4 on (after its size field). */
  private onDibHeader(d: Uint8Array): void {
    const core = this.dibSize === CORE_HEADER;
    const os2 = this.dibSize === OS2_HEADER;
    const width = core ? u16le(d, 0) : i32le(d, 0);
    const rawHeight = core ? u16le(d, 2) : i32le(d, 4);
    const planes = core ? u16le(d, 4) : u16le(d, 8);
    const bitCount = core ? u16le(d, 6) : u16le(d, 10);
    const compressionId = core ? 0 : u32le(d, 12);
    // Negative height means top-down rows (Windows headers only; OS/2 2.x reads the same field as unsigned, so
    // there a "negative" height is 2^31 rows or more to one decoder and a few to another). -2^31 has no magnitude
    // in 32 bits. A negative width has no meaning anywhere.
    if (width <= 0 || rawHeight === 0 || rawHeight === -0x80000000 || (os2 && rawHeight < 0)) {
      throw malformed(`bmp: invalid dimensions ${width}x${rawHeight}`);
    }
    const height = Math.abs(rawHeight);
    if (planes !== 1) throw malformed(`bmp: ${planes} colour planes`);
    const compressions = core ? CORE_COMPRESSIONS : os2 ? OS2_COMPRESSIONS : INFO_COMPRESSIONS;
    const compression = compressions.get(compressionId);
    if (compression === undefined) throw malformed(`bmp: unsupported compression ${compressionId}`);
    if (!compression.bitCounts.includes(bitCount)) {
      throw malformed(`bmp: ${bitCount} bits per pixel with compression ${compressionId}`);
    }
    // Windows documents that top-down bitmaps cannot be compressed.
    if (rawHeight < 0 && !compression.raw) throw malformed(`bmp: top-down bitmap with compression ${compressionId}`);
    let required = this.dataOffset;
    if (compression.raw) required += Math.floor((bitCount * width + 31) / 32) * 4 * height;
    this.requiredLength = required;
    this.report(width, height);
    this.rest('body');
  }
}
