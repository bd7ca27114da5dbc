/**
 * Generators of small-but-real images for tests. Every output is a complete, decodable
 * file built from the format specs, deliberately without touching src/ code (its own
 * CRC included) so that a bug in the probe cannot hide behind the same bug here.
 * Pixels are constant so that even 4000x3000 images are cheap to build.
 *
 * The options that build hostile files (headers that disagree: frames outside the canvas,
 * second frame headers, compressions that do not fit the bit depth, ...) write exactly the
 * headers asked for; such files are, by design, not what a decoder can read unambiguously.
 */
import { deflateSync } from 'node:zlib';

// ---- PNG ------------------------------------------------------------------------------------

/** Bitwise CRC-32; slow but independent of the table-driven one under test. */
export function referenceCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Builds one PNG chunk; exported so tests can assemble deliberately broken files. */
export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(referenceCrc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function ihdr(width: number, height: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = 8; // bit depth
  data[9] = 2; // truecolour RGB
  // compression, filter, interlace all 0
  return pngChunk('IHDR', data);
}

/**
 * Deflated scanlines of a black RGB image: filter byte 0 followed by zero samples, which
 * deflate squeezes to almost nothing even for multi-megapixel images.
 */
function blackRows(width: number, height: number): Buffer {
  return deflateSync(Buffer.alloc(height * (1 + width * 3)));
}

/** A rectangle on an image's canvas: a GIF frame, an APNG frame, a GIF text grid. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function png(width: number, height: number, opts: { extraChunkBytes?: number } = {}): Buffer {
  const parts = [PNG_SIGNATURE, ihdr(width, height)];
  if (opts.extraChunkBytes !== undefined) {
    // Private ancillary chunk ("exTr": lower-case first and second letters, upper-case
    // reserved third letter), which decoders must skip.
    parts.push(pngChunk('exTr', Buffer.alloc(opts.extraChunkBytes, 0x61)));
  }
  parts.push(pngChunk('IDAT', blackRows(width, height)), pngChunk('IEND'));
  return Buffer.concat(parts);
}

/** An RGB PNG whose pixels `pixel(x, y)` gives as [red, green, blue]: an image a person recognises. */
export function rgbPng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), y * (1 + width * 3) + 1 + x * 3);
  }
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height), pngChunk('IDAT', deflateSync(rows)), pngChunk('IEND')]);
}

/**
 * An animated PNG: IHDR `width`x`height`, acTL, then the default image, which is the
 * animation's first frame with the fcTL `defaultFrame` (the whole canvas unless given;
 * `null`: the default image is not part of the animation), then one fcTL + fdAT per frame.
 * Frames are written where they are asked to be, inside the canvas or not.
 */
export function apng(width: number, height: number, frames: readonly Rect[], opts: { defaultFrame?: Rect | null } = {}): Buffer {
  let sequence = 0;
  const frameControl = (r: Rect): Buffer => {
    const d = Buffer.alloc(26);
    d.writeUInt32BE(sequence++, 0);
    d.writeUInt32BE(r.width, 4);
    d.writeUInt32BE(r.height, 8);
    d.writeUInt32BE(r.x, 12);
    d.writeUInt32BE(r.y, 16);
    d.writeUInt16BE(1, 20); // delay 1/10 s; dispose_op and blend_op 0
    d.writeUInt16BE(10, 22);
    return pngChunk('fcTL', d);
  };
  const defaultFrame = opts.defaultFrame === undefined ? { x: 0, y: 0, width, height } : opts.defaultFrame;
  const control = Buffer.alloc(8); // num_frames, num_plays (0 = forever)
  control.writeUInt32BE(frames.length + (defaultFrame ? 1 : 0), 0);
  const parts = [PNG_SIGNATURE, ihdr(width, height), pngChunk('acTL', control)];
  if (defaultFrame) parts.push(frameControl(defaultFrame));
  parts.push(pngChunk('IDAT', blackRows(width, height)));
  for (const frame of frames) {
    parts.push(frameControl(frame));
    const data = Buffer.concat([Buffer.alloc(4), blackRows(frame.width, frame.height)]);
    data.writeUInt32BE(sequence++, 0);
    parts.push(pngChunk('fdAT', data));
  }
  parts.push(pngChunk('IEND'));
  return Buffer.concat(parts);
}

export function pngHeaderOnly(width: number, height: number): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height)]);
}

// ---- JPEG -----------------------------------------------------------------------------------

/** One marker segment: FF, the marker, the 16-bit length (counting itself), the body. */
export function jpegSegment(marker: number, body: Uint8Array): Buffer {
  if (body.length + 2 > 0xffff) throw new RangeError('JPEG segment body too long');
  const head = Buffer.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]);
  return Buffer.concat([head, body]);
}

/** Largest body a single JPEG marker segment can carry (its length field includes itself). */
export const JPEG_MAX_SEGMENT_BODY = 0xffff - 2;

// Annex K.3 "typical" luminance tables: every decoder handles them, and in them the
// DC category-0 code is "00" and the AC end-of-block code is "1010".
const STD_DC_LUMA_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const STD_DC_LUMA_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const STD_AC_LUMA_COUNTS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const STD_AC_LUMA_SYMBOLS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
  0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72,
  0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
  0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
  0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
  0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
  0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];
const DC_DIFF_ZERO = { code: 0b00, length: 2 };
const AC_END_OF_BLOCK = { code: 0b1010, length: 4 };

/** MSB-first bit packer with JPEG byte stuffing (a 0x00 after every data 0xFF). */
class JpegBitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private bits = 0;

  write(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >> i) & 1);
      if (++this.bits === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0x00);
    this.acc = 0;
    this.bits = 0;
  }

  /** Pads the last byte with 1-bits, as the spec requires. */
  finish(): Buffer {
    if (this.bits > 0) this.write(0xff, 8 - this.bits);
    return Buffer.from(this.bytes);
  }
}

/**
 * Entropy-coded data for `blocks` 8x8 blocks that are all DC-diff 0 and all-zero AC.
 * Each block is the 6 bits 001010, so 4 blocks make exactly 3 bytes: the bulk is one
 * 3-byte pattern repeated, which keeps 4000x3000 (187,500 blocks) instant.
 */
function flatScanData(blocks: number): Buffer {
  const perGroup = 4;
  const unit = new JpegBitWriter();
  for (let i = 0; i < perGroup; i++) {
    unit.write(DC_DIFF_ZERO.code, DC_DIFF_ZERO.length);
    unit.write(AC_END_OF_BLOCK.code, AC_END_OF_BLOCK.length);
  }
  const pattern = unit.finish(); // 24 bits exactly: no padding, and none of its bytes is 0xFF
  const groups = Math.floor(blocks / perGroup);
  const tail = new JpegBitWriter();
  for (let i = 0; i < blocks % perGroup; i++) {
    tail.write(DC_DIFF_ZERO.code, DC_DIFF_ZERO.length);
    tail.write(AC_END_OF_BLOCK.code, AC_END_OF_BLOCK.length);
  }
  const body = Buffer.alloc(groups * pattern.length);
  if (groups > 0) body.fill(pattern);
  return Buffer.concat([body, tail.finish()]);
}

/** APP1 "Exif" payloads totalling `bytes`, split over as many segments as the 16-bit length field forces. */
function exifSegments(bytes: number): Buffer[] {
  // "Exif\0\0" + a big-endian TIFF header pointing at an empty IFD0, so readers that do
  // parse EXIF find a valid (if empty) structure; the rest is zero filler.
  const header = Buffer.from([
    0x45, 0x78, 0x69, 0x66, 0x00, 0x00, 0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00,
  ]);
  const segments: Buffer[] = [];
  let remaining = bytes;
  let first = true;
  while (remaining > 0) {
    const size = Math.min(remaining, JPEG_MAX_SEGMENT_BODY);
    const body = Buffer.alloc(size);
    if (first) header.copy(body, 0, 0, Math.min(header.length, size));
    segments.push(jpegSegment(0xe1, body));
    remaining -= size;
    first = false;
  }
  return segments;
}

/**
 * A one-component frame header segment (SOF0 unless `marker` says otherwise; DHP has the same layout).
 * Width and height are written as given (16 bits each), 0 included.
 */
export function jpegFrameHeader(width: number, height: number, marker = 0xc0): Buffer {
  return jpegSegment(marker, Buffer.from([8, (height >> 8) & 0xff, height & 0xff, (width >> 8) & 0xff, width & 0xff, 1, 1, 0x11, 0]));
}

export interface JpegOptions {
  /** APP1 EXIF bytes before the frame header. */
  exifBytes?: number;
  /** The frame header's marker: 0xC0 (baseline, the default) ... 0xCF. The scan stays Huffman-coded baseline data. */
  sof?: number;
  /** Bytes carried as a JFXX thumbnail (APP0) before the frame header: a whole JPEG, or only its first segments. */
  thumbnail?: Uint8Array;
  /** Segments (from `jpegSegment`, `jpegFrameHeader`) inserted right before the frame header. */
  beforeFrame?: readonly Buffer[];
  /** Segments inserted right after the frame header. */
  afterFrame?: readonly Buffer[];
  /** Segments inserted between the scan's entropy-coded data and EOI. */
  afterScan?: readonly Buffer[];
}

export function jpeg(width: number, height: number, opts: JpegOptions = {}): Buffer {
  if (width < 1 || height < 1 || width > 0xffff || height > 0xffff) throw new RangeError('JPEG dimensions out of range');
  const jfif = Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const dqt = Buffer.alloc(65, 1); // Pq=0/Tq=0, then 64 quantisers of 1
  dqt[0] = 0x00;
  const dhtDc = Buffer.from([0x00, ...STD_DC_LUMA_COUNTS, ...STD_DC_LUMA_SYMBOLS]);
  const dhtAc = Buffer.from([0x10, ...STD_AC_LUMA_COUNTS, ...STD_AC_LUMA_SYMBOLS]);
  const sos = Buffer.from([1, 1, 0x00, 0, 63, 0]); // one component, DC/AC table 0, full spectrum
  // One component with 1x1 sampling: the scan is non-interleaved, one block per 8x8 tile.
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  // JFXX extension: "JFXX\0", then 0x10 = thumbnail coded as JPEG.
  const thumbnail = opts.thumbnail ? [jpegSegment(0xe0, Buffer.concat([Buffer.from('JFXX\0\x10', 'latin1'), opts.thumbnail]))] : [];
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    jpegSegment(0xe0, jfif),
    ...thumbnail,
    ...(opts.exifBytes ? exifSegments(opts.exifBytes) : []),
    jpegSegment(0xdb, dqt),
    ...(opts.beforeFrame ?? []),
    jpegFrameHeader(width, height, opts.sof),
    ...(opts.afterFrame ?? []),
    jpegSegment(0xc4, dhtDc),
    jpegSegment(0xc4, dhtAc),
    jpegSegment(0xda, sos),
    flatScanData(blocks),
    ...(opts.afterScan ?? []),
    Buffer.from([0xff, 0xd9]),
  ]);
}

// ---- GIF ------------------------------------------------------------------------------------

/**
 * LZW data for `pixels` zero-index pixels at minimum code size 2 (clear = 4, EOI = 5).
 * Emitting a clear code before every pair of pixel codes keeps the dictionary from
 * reaching 8 entries, so every code stays 3 bits wide: [clear, 0, 0] is 9 bits
 * (LSB-first), and 8 such groups form an exact 9-byte pattern that can be repeated.
 */
function flatLzw(pixels: number): Buffer {
  const codes: number[] = [];
  const emitGroup = (n: number): void => {
    codes.push(4);
    for (let i = 0; i < n; i++) codes.push(0);
  };
  const packed = (list: number[]): Buffer => {
    const out: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const code of list) {
      acc |= code << bits;
      bits += 3;
      while (bits >= 8) {
        out.push(acc & 0xff);
        acc >>= 8;
        bits -= 8;
      }
    }
    if (bits > 0) out.push(acc & 0xff);
    return Buffer.from(out);
  };
  for (let i = 0; i < 8; i++) emitGroup(2);
  const pattern = packed(codes); // 72 bits: 9 whole bytes
  const patterns = Math.floor(pixels / 16);
  codes.length = 0;
  let rest = pixels % 16;
  while (rest > 0) {
    const n = Math.min(rest, 2);
    emitGroup(n);
    rest -= n;
  }
  codes.push(5);
  const bulk = Buffer.alloc(patterns * pattern.length);
  if (patterns > 0) bulk.fill(pattern);
  return Buffer.concat([bulk, packed(codes)]);
}

function subBlocks(data: Buffer): Buffer {
  const blocks = Math.ceil(data.length / 255);
  const out = Buffer.alloc(data.length + blocks + 1);
  let o = 0;
  for (let i = 0; i < data.length; i += 255) {
    const piece = data.subarray(i, i + 255);
    out[o++] = piece.length;
    piece.copy(out, o);
    o += piece.length;
  }
  out[o] = 0; // block terminator
  return out;
}

export function gif(width: number, height: number): Buffer {
  return gifFrames(width, height, [{ x: 0, y: 0, width, height }]);
}

/**
 * A GIF89a with a `screenWidth`x`screenHeight` logical screen and one image per frame, each
 * placed where asked (inside the screen or not); `plainText` adds a plain text extension
 * whose text grid is that rectangle, before the first frame.
 */
export function gifFrames(screenWidth: number, screenHeight: number, frames: readonly Rect[], opts: { plainText?: Rect } = {}): Buffer {
  if (screenWidth < 1 || screenHeight < 1 || screenWidth > 0xffff || screenHeight > 0xffff) {
    throw new RangeError('GIF dimensions out of range');
  }
  const header = Buffer.alloc(13);
  header.write('GIF89a', 0, 'latin1');
  header.writeUInt16LE(screenWidth, 6);
  header.writeUInt16LE(screenHeight, 8);
  header[10] = 0x80; // global colour table present, 2 entries
  const palette = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff, 0xff]);
  const parts: Buffer[] = [header, palette];
  if (opts.plainText) {
    const text = Buffer.alloc(15);
    text.set([0x21, 0x01, 12]);
    writeRectLE(text, 3, opts.plainText);
    text.set([8, 8, 1, 0], 11); // cell width and height, foreground and background colour indexes
    parts.push(text, subBlocks(Buffer.from('hi', 'latin1')));
  }
  for (const frame of frames) {
    const descriptor = Buffer.alloc(10);
    descriptor[0] = 0x2c;
    writeRectLE(descriptor, 1, frame);
    parts.push(descriptor, Buffer.from([2]), subBlocks(flatLzw(frame.width * frame.height)));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** GIF's left, top, width, height: four little-endian 16-bit fields. */
function writeRectLE(out: Buffer, at: number, r: Rect): void {
  out.writeUInt16LE(r.x, at);
  out.writeUInt16LE(r.y, at + 2);
  out.writeUInt16LE(r.width, at + 4);
  out.writeUInt16LE(r.height, at + 6);
}

// ---- BMP ------------------------------------------------------------------------------------

export function bmp(width: number, height: number): Buffer {
  return bmpImage(width, height);
}

/** DIB header variants by name: BITMAPCOREHEADER, BITMAPINFOHEADER, OS/2 2.x, BITMAPV4HEADER, BITMAPV5HEADER. */
export const BMP_HEADER_SIZES = { core: 12, info: 40, os2: 64, v4: 108, v5: 124 } as const;
export type BmpHeader = keyof typeof BMP_HEADER_SIZES;

export interface BmpOptions {
  header?: BmpHeader;
  /** Bits per pixel (24 unless given). */
  bitCount?: number;
  /** The header's compression field (0, BI_RGB, unless given; the core header has none). */
  compression?: number;
  /** Rows stored top-down: the height field is negative. */
  topDown?: boolean;
  planes?: number;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/**
 * A BMP with the given header variant, depth and compression: raw rows (BI_RGB, and
 * bit fields outside OS/2) of black pixels, RLE8/RLE4 runs of colour 0, and for any other
 * compression only an end-of-bitmap code standing in for the payload.
 */
export function bmpImage(width: number, height: number, opts: BmpOptions = {}): Buffer {
  const header = opts.header ?? 'info';
  const dibSize = BMP_HEADER_SIZES[header];
  const bitCount = opts.bitCount ?? 24;
  const compression = header === 'core' ? BI_RGB : (opts.compression ?? BI_RGB);
  const bitFields = header !== 'os2' && (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS);
  // BITMAPINFOHEADER keeps its masks after the header; V4 and V5 hold them inside.
  const masks = bitFields && header === 'info' ? (compression === BI_ALPHABITFIELDS ? 16 : 12) : 0;
  const paletteBytes = bitCount <= 8 ? (1 << bitCount) * (header === 'core' ? 3 : 4) : 0;
  const dataOffset = 14 + dibSize + masks + paletteBytes;
  const raw = compression === BI_RGB || bitFields;
  const rowSize = Math.floor((bitCount * width + 31) / 32) * 4;
  const pixels = raw
    ? Buffer.alloc(rowSize * height)
    : compression === BI_RLE8 || compression === BI_RLE4
      ? rleRuns(width, height)
      : Buffer.from([0, 1]);

  const out = Buffer.alloc(dataOffset + pixels.length);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(dataOffset, 10);
  out.writeUInt32LE(dibSize, 14);
  if (header === 'core') {
    out.writeUInt16LE(width, 18);
    out.writeUInt16LE(height, 20);
    out.writeUInt16LE(opts.planes ?? 1, 22);
    out.writeUInt16LE(bitCount, 24);
  } else {
    out.writeInt32LE(width, 18);
    out.writeInt32LE(opts.topDown ? -height : height, 22); // positive: bottom-up rows
    out.writeUInt16LE(opts.planes ?? 1, 26);
    out.writeUInt16LE(bitCount, 28);
    out.writeUInt32LE(compression, 30);
    out.writeUInt32LE(pixels.length, 34);
    out.writeInt32LE(2835, 38); // 72 dpi
    out.writeInt32LE(2835, 42);
    if (bitFields) {
      const [r, g, b, a] = bitCount === 16 ? [0x7c00, 0x03e0, 0x001f, 0x8000] : [0xff0000, 0xff00, 0xff, 0xff000000];
      const fields = compression === BI_ALPHABITFIELDS || header !== 'info' ? [r, g, b, a] : [r, g, b];
      fields.forEach((mask, i) => out.writeUInt32LE(mask!, 54 + 4 * i));
    }
    if (header === 'v4' || header === 'v5') out.write('BGRs', 70, 'latin1'); // LCS_sRGB, little-endian
  }
  pixels.copy(out, dataOffset);
  return out;
}

/** RLE8/RLE4 data: each row as runs of at most 255 pixels of colour 0, then end-of-line; end-of-bitmap last. */
function rleRuns(width: number, height: number): Buffer {
  const row: number[] = [];
  for (let left = width; left > 0; left -= 255) row.push(Math.min(left, 255), 0);
  const out: number[] = [];
  for (let y = 0; y < height; y++) out.push(...row, 0, y === height - 1 ? 1 : 0);
  return Buffer.from(out);
}

// ---- misc -----------------------------------------------------------------------------------

/** Appends zero bytes after the image's end marker so the file is exactly `totalSize` bytes. */
export function pad(buf: Buffer, totalSize: number): Buffer {
  if (totalSize < buf.length) throw new RangeError(`pad: image is already ${buf.length} bytes`);
  return Buffer.concat([buf, Buffer.alloc(totalSize - buf.length)]);
}
