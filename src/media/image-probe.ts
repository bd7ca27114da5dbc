/**
 * Streaming image sniffer: decides a photo's format from its bytes and reads its
 * dimensions from the header while the upload streams through.
 *
 * Memory stays constant whatever the input size: the parser only ever buffers the
 * few header bytes it is about to interpret (at most PENDING_CAPACITY), and
 * everything else (PNG chunk bodies, JPEG segments, GIF sub-blocks, pixel data) is
 * skipped by counting lengths, never copied.
 */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'bmp';

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  mimeType: string;
  extension: string;
}

export type ImageProbeFailure = 'unsupported_format' | 'malformed' | 'truncated';

export class ImageProbeError extends Error {
  readonly reason: ImageProbeFailure;

  constructor(reason: ImageProbeFailure, message?: string) {
    super(message ?? reason);
    this.name = 'ImageProbeError';
    this.reason = reason;
  }
}

const FORMAT_META: Record<ImageFormat, { mimeType: string; extension: string }> = {
  png: { mimeType: 'image/png', extension: 'png' },
  jpeg: { mimeType: 'image/jpeg', extension: 'jpg' },
  gif: { mimeType: 'image/gif', extension: 'gif' },
  bmp: { mimeType: 'image/bmp', extension: 'bmp' },
};

const MAGICS: ReadonlyArray<{ format: ImageFormat; bytes: readonly number[] }> = [
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  // The third byte is the 0xFF that starts the first marker after SOI; requiring it
  // keeps "FF D8" followed by junk from being taken for a JPEG.
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38, 0x37, 0x61] }, // GIF87a
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38, 0x39, 0x61] }, // GIF89a
  { format: 'bmp', bytes: [0x42, 0x4d] }, // BM
];
const LONGEST_MAGIC = 8;

/** Largest number of bytes any parser state asks to see at once (PNG IHDR body + CRC = 17). */
const PENDING_CAPACITY = 32;

const PNG_MAX_DIMENSION = 0x7fffffff;
const PNG_ALLOWED_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const PNG_TYPE_IHDR = 0x49484452;
const PNG_TYPE_IDAT = 0x49444154;
const PNG_TYPE_IEND = 0x49454e44;

const BMP_DIB_SIZES: ReadonlySet<number> = new Set([12, 40, 52, 56, 64, 108, 124]);
const BMP_BIT_COUNTS: ReadonlySet<number> = new Set([1, 4, 8, 16, 24, 32]);
// BI_RGB, BI_BITFIELDS and BI_ALPHABITFIELDS store raw rows, so their pixel-array size
// is predictable; RLE/JPEG/PNG payloads are not.
const BMP_RAW_COMPRESSIONS: ReadonlySet<number> = new Set([0, 3, 6]);
const BMP_MAX_COMPRESSION = 6;

let crcTable: Uint32Array | undefined;

function getCrcTable(): Uint32Array {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  return crcTable;
}

/** CRC-32 (ISO-HDLC, as used by PNG and zlib); kept local because zlib.crc32 is missing from older Node 20 releases. */
export function crc32(data: Uint8Array, seed = 0): number {
  const table = getCrcTable();
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC of the chunk type "IHDR", which the chunk CRC covers ahead of the data. */
const IHDR_TYPE_CRC = crc32(new Uint8Array([0x49, 0x48, 0x44, 0x52]));

type State =
  | 'sniff'
  | 'png-ihdr-head'
  | 'png-ihdr-body'
  | 'png-chunk-head'
  | 'png-iend-crc'
  | 'jpeg-marker-ff'
  | 'jpeg-marker-code'
  | 'jpeg-seg-len'
  | 'jpeg-sof'
  | 'jpeg-scan'
  | 'gif-screen'
  | 'gif-screen-rest'
  | 'gif-block'
  | 'gif-ext-label'
  | 'gif-image'
  | 'gif-lzw-min'
  | 'gif-sub'
  | 'bmp-file-head'
  | 'bmp-dib'
  | 'bmp-body'
  | 'done';

function u16be(d: Uint8Array, o: number): number {
  return (d[o]! << 8) | d[o + 1]!;
}
function u32be(d: Uint8Array, o: number): number {
  return ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
}
function u16le(d: Uint8Array, o: number): number {
  return d[o]! | (d[o + 1]! << 8);
}
function u32le(d: Uint8Array, o: number): number {
  return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
}
function i32le(d: Uint8Array, o: number): number {
  return d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24);
}

function isAsciiLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/** SOF0..SOF15 share the C0..CF range with DHT (C4), JPG (C8) and DAC (CC), which carry no frame header. */
function isJpegSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function malformed(message: string): ImageProbeError {
  return new ImageProbeError('malformed', message);
}

export class ImageProbe {
  private state: State = 'sniff';
  private need = 1;
  private skip = 0;
  private readonly pending = new Uint8Array(PENDING_CAPACITY);
  private pendingLen = 0;
  private total = 0;
  private format: ImageFormat | undefined;
  private result: ImageInfo | undefined;
  private failure: ImageProbeError | undefined;

  private readonly sniffed = new Uint8Array(LONGEST_MAGIC);
  private sniffedLen = 0;

  private pngSawIdat = false;

  private jpegMarker = 0;
  private jpegSegmentRest = 0;
  private jpegSawScan = false;
  private jpegScanAfterFF = false;

  private gifSawImage = false;

  private bmpDibSize = 0;
  private bmpDataOffset = 0;
  private bmpRequiredLength = 0;

  get info(): ImageInfo | undefined {
    return this.result;
  }

  /** Bytes currently held back for header parsing; exposed so tests can check the memory bound. */
  get bufferedBytes(): number {
    return this.pendingLen + (this.state === 'sniff' ? this.sniffedLen : 0);
  }

  /** Total bytes fed so far, including any tolerated trailing bytes. */
  get bytesSeen(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      throw this.fail(err);
    }
  }

  finish(): ImageInfo {
    if (this.failure !== undefined) throw this.failure;
    try {
      return this.conclude();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Latches the first failure so a caller that keeps pushing after an error sees the same verdict. */
  private fail(err: unknown): ImageProbeError {
    // Any other exception would be a parser bug; callers are promised only ImageProbeError,
    // and treating the input as malformed is the safe verdict.
    this.failure =
      err instanceof ImageProbeError
        ? err
        : new ImageProbeError('malformed', `image parser error: ${err instanceof Error ? err.message : String(err)}`);
    return this.failure;
  }

  private conclude(): ImageInfo {
    if (this.format === undefined) {
      throw new ImageProbeError(
        'unsupported_format',
        this.total === 0 ? 'empty input' : 'input is not a PNG, JPEG, GIF or BMP image',
      );
    }
    if (this.state === 'done' && this.result !== undefined) return this.result;
    if (this.state === 'bmp-body' && this.result !== undefined) {
      if (this.total >= this.bmpRequiredLength) return this.result;
      throw new ImageProbeError(
        'truncated',
        `bmp ends at byte ${this.total} but its pixel data needs ${this.bmpRequiredLength} bytes`,
      );
    }
    throw new ImageProbeError('truncated', `${this.format} ends before the end of the image`);
  }

  private consume(chunk: Uint8Array): void {
    const n = chunk.length;
    this.total += n;
    let pos = 0;
    while (pos < n) {
      if (this.state === 'done' || this.state === 'bmp-body') return; // trailing bytes / pixel data: only counted
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - pos);
        this.skip -= step;
        pos += step;
        continue;
      }
      if (this.state === 'jpeg-scan') {
        pos = this.scanEntropyData(chunk, pos);
        continue;
      }
      const take = Math.min(this.need - this.pendingLen, n - pos);
      this.pending.set(chunk.subarray(pos, pos + take), this.pendingLen);
      this.pendingLen += take;
      pos += take;
      if (this.pendingLen === this.need) {
        this.pendingLen = 0;
        // The view stays valid during the handler: nothing writes to `pending` until the next loop turn.
        this.handle(this.pending.subarray(0, this.need));
      }
    }
  }

  private expect(state: State, need: number, skip = 0): void {
    this.state = state;
    this.need = need;
    this.skip = skip;
  }

  private complete(): void {
    this.expect('done', 1);
  }

  private setInfo(format: ImageFormat, width: number, height: number): void {
    if (this.result !== undefined) return;
    this.result = Object.freeze({ format, width, height, ...FORMAT_META[format] });
  }

  private handle(d: Uint8Array): void {
    switch (this.state) {
      case 'sniff':
        return this.onSniffByte(d[0]!);
      case 'png-ihdr-head':
        return this.onPngIhdrHead(d);
      case 'png-ihdr-body':
        return this.onPngIhdrBody(d);
      case 'png-chunk-head':
        return this.onPngChunkHead(d);
      case 'png-iend-crc':
        return this.complete();
      case 'jpeg-marker-ff':
        if (d[0] !== 0xff) throw malformed('jpeg: expected a marker after a segment');
        return this.expect('jpeg-marker-code', 1);
      case 'jpeg-marker-code':
        return this.onJpegMarker(d[0]!);
      case 'jpeg-seg-len':
        return this.onJpegSegmentLength(u16be(d, 0));
      case 'jpeg-sof':
        return this.onJpegFrameHeader(d);
      case 'gif-screen':
        return this.onGifScreen(d);
      case 'gif-screen-rest':
        return this.onGifScreenRest(d[0]!);
      case 'gif-block':
        return this.onGifBlock(d[0]!);
      case 'gif-ext-label':
        return this.expect('gif-sub', 1);
      case 'gif-image':
        return this.onGifImageDescriptor(d);
      case 'gif-lzw-min':
        return this.onGifLzwMinimum(d[0]!);
      case 'gif-sub':
        return d[0] === 0 ? this.expect('gif-block', 1) : this.expect('gif-sub', 1, d[0]!);
      case 'bmp-file-head':
        return this.onBmpFileHeader(d);
      case 'bmp-dib':
        return this.onBmpDibHeader(d);
      case 'jpeg-scan':
      case 'bmp-body':
      case 'done':
        // Handled directly in consume(); never dispatched with a filled buffer.
        return;
    }
  }

  // ---- sniffing -------------------------------------------------------------------------------

  private onSniffByte(b: number): void {
    this.sniffed[this.sniffedLen++] = b;
    const len = this.sniffedLen;
    let alive = false;
    for (const magic of MAGICS) {
      if (magic.bytes.length < len) continue;
      let ok = true;
      for (let i = 0; i < len; i++) {
        if (magic.bytes[i] !== this.sniffed[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (magic.bytes.length === len) return this.begin(magic.format);
      alive = true;
    }
    if (!alive) throw new ImageProbeError('unsupported_format', 'input is not a PNG, JPEG, GIF or BMP image');
    this.expect('sniff', 1);
  }

  private begin(format: ImageFormat): void {
    this.format = format;
    this.sniffedLen = 0;
    switch (format) {
      case 'png':
        return this.expect('png-ihdr-head', 8);
      case 'jpeg':
        return this.expect('jpeg-marker-code', 1);
      case 'gif':
        return this.expect('gif-screen', 4);
      case 'bmp':
        return this.expect('bmp-file-head', 16);
    }
  }

  // ---- PNG ------------------------------------------------------------------------------------

  private onPngIhdrHead(d: Uint8Array): void {
    if (u32be(d, 0) !== 13 || u32be(d, 4) !== PNG_TYPE_IHDR) {
      throw malformed('png: first chunk is not a 13-byte IHDR');
    }
    this.expect('png-ihdr-body', 17);
  }

  private onPngIhdrBody(d: Uint8Array): void {
    if (crc32(d.subarray(0, 13), IHDR_TYPE_CRC) !== u32be(d, 13)) throw malformed('png: IHDR CRC mismatch');
    const width = u32be(d, 0);
    const height = u32be(d, 4);
    if (width < 1 || width > PNG_MAX_DIMENSION || height < 1 || height > PNG_MAX_DIMENSION) {
      throw malformed(`png: invalid dimensions ${width}x${height}`);
    }
    const bitDepth = d[8]!;
    const colourType = d[9]!;
    if (!PNG_ALLOWED_DEPTHS[colourType]?.includes(bitDepth)) {
      throw malformed(`png: bit depth ${bitDepth} is invalid for colour type ${colourType}`);
    }
    if (d[10] !== 0 || d[11] !== 0 || (d[12] !== 0 && d[12] !== 1)) {
      throw malformed('png: unknown compression, filter or interlace method');
    }
    this.setInfo('png', width, height);
    this.expect('png-chunk-head', 8);
  }

  private onPngChunkHead(d: Uint8Array): void {
    const length = u32be(d, 0);
    if (length > 0x7fffffff) throw malformed('png: chunk length exceeds 2^31-1');
    for (let i = 4; i < 8; i++) {
      if (!isAsciiLetter(d[i]!)) throw malformed('png: invalid chunk type');
    }
    const type = u32be(d, 4);
    if (type === PNG_TYPE_IHDR) throw malformed('png: duplicate IHDR');
    if (type === PNG_TYPE_IEND) {
      if (length !== 0) throw malformed('png: IEND must be empty');
      if (!this.pngSawIdat) throw malformed('png: IEND before any IDAT');
      return this.expect('png-iend-crc', 4);
    }
    if (type === PNG_TYPE_IDAT) this.pngSawIdat = true;
    // Chunk bodies (and their CRCs) are skipped unverified: only IHDR matters for the
    // verdict, and checking every CRC would cost a full pass over the upload.
    this.expect('png-chunk-head', 8, length + 4);
  }

  // ---- JPEG -----------------------------------------------------------------------------------

  private onJpegMarker(marker: number): void {
    if (marker === 0xff) return this.expect('jpeg-marker-code', 1); // fill byte before a marker
    this.jpegMarker = marker;
    if (marker === 0xd9) {
      if (!this.jpegSawScan) throw malformed('jpeg: EOI before any scan');
      return this.complete();
    }
    if (marker === 0xd8) throw malformed('jpeg: SOI inside the image');
    // TEM and stray RSTn carry no length; decoders skip them.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) return this.expect('jpeg-marker-ff', 1);
    if (marker < 0xc0) throw malformed(`jpeg: invalid marker 0x${marker.toString(16)}`);
    this.expect('jpeg-seg-len', 2);
  }

  private onJpegSegmentLength(length: number): void {
    if (length < 2) throw malformed('jpeg: segment length below 2');
    const body = length - 2;
    const marker = this.jpegMarker;
    if (isJpegSof(marker)) {
      if (body < 6) throw malformed('jpeg: frame header too short');
      this.jpegSegmentRest = body - 6;
      return this.expect('jpeg-sof', 6);
    }
    if (marker === 0xda) {
      if (this.result === undefined) throw malformed('jpeg: SOS before any SOF');
      this.jpegSawScan = true;
      this.jpegScanAfterFF = false;
      return this.expect('jpeg-scan', 1, body);
    }
    this.expect('jpeg-marker-ff', 1, body);
  }

  private onJpegFrameHeader(d: Uint8Array): void {
    const height = u16be(d, 1);
    const width = u16be(d, 3);
    const components = d[5]!;
    if (components === 0 || this.jpegSegmentRest < 3 * components) {
      throw malformed('jpeg: frame header component list is inconsistent');
    }
    // Height 0 would defer the height to a DNL marker after the first scan; the probe
    // promises dimensions from the header, and such files are practically nonexistent.
    if (width === 0 || height === 0) throw malformed(`jpeg: invalid dimensions ${width}x${height}`);
    this.setInfo('jpeg', width, height);
    this.expect('jpeg-marker-ff', 1, this.jpegSegmentRest);
  }

  /**
   * Scans entropy-coded data for the next marker. Only "FF xx" pairs matter: FF 00 is a
   * stuffed data byte, FF D0..D7 are restart markers inside the scan, repeated FFs are
   * fill; any other pair ends the scan (EOI, or DHT/SOS/... between progressive scans).
   */
  private scanEntropyData(chunk: Uint8Array, start: number): number {
    const n = chunk.length;
    let pos = start;
    while (pos < n) {
      if (!this.jpegScanAfterFF) {
        const ff = chunk.indexOf(0xff, pos);
        if (ff < 0) return n;
        this.jpegScanAfterFF = true;
        pos = ff + 1;
        continue;
      }
      const b = chunk[pos++]!;
      if (b === 0xff) continue;
      this.jpegScanAfterFF = false;
      if (b === 0x00 || (b >= 0xd0 && b <= 0xd7)) continue;
      this.onJpegMarker(b);
      return pos;
    }
    return pos;
  }

  // ---- GIF ------------------------------------------------------------------------------------

  private onGifScreen(d: Uint8Array): void {
    const width = u16le(d, 0);
    const height = u16le(d, 2);
    if (width === 0 || height === 0) throw malformed(`gif: invalid dimensions ${width}x${height}`);
    this.setInfo('gif', width, height);
    this.expect('gif-screen-rest', 3);
  }

  private onGifScreenRest(packed: number): void {
    this.expect('gif-block', 1, packed & 0x80 ? 3 << ((packed & 7) + 1) : 0);
  }

  /**
   * Walks the block structure rather than just checking the last byte for 0x3B: a
   * truncated file can easily end on a 0x3B inside a colour table or LZW data, and
   * walking also lets bytes after the real trailer be tolerated.
   */
  private onGifBlock(introducer: number): void {
    switch (introducer) {
      case 0x21:
        return this.expect('gif-ext-label', 1);
      case 0x2c:
        return this.expect('gif-image', 9);
      case 0x3b:
        if (!this.gifSawImage) throw malformed('gif: trailer before any image');
        return this.complete();
      default:
        throw malformed(`gif: unexpected block introducer 0x${introducer.toString(16)}`);
    }
  }

  private onGifImageDescriptor(d: Uint8Array): void {
    const packed = d[8]!;
    this.expect('gif-lzw-min', 1, packed & 0x80 ? 3 << ((packed & 7) + 1) : 0);
  }

  private onGifLzwMinimum(bits: number): void {
    // Decoders cap LZW codes at 12 bits, so the initial code size (bits + 1) must stay below that.
    if (bits < 1 || bits > 11) throw malformed(`gif: invalid LZW minimum code size ${bits}`);
    this.gifSawImage = true;
    this.expect('gif-sub', 1);
  }

  // ---- BMP ------------------------------------------------------------------------------------

  /** `d` holds file bytes 2..17: file size, reserved, pixel-data offset, DIB header size. */
  private onBmpFileHeader(d: Uint8Array): void {
    const dibSize = u32le(d, 12);
    if (!BMP_DIB_SIZES.has(dibSize)) {
      // "BM" alone is weak evidence (plenty of text starts with it), so an unknown header
      // size means "not a BMP" rather than "broken BMP".
      throw new ImageProbeError('unsupported_format', `bmp: unknown DIB header size ${dibSize}`);
    }
    this.bmpDibSize = dibSize;
    this.bmpDataOffset = u32le(d, 8);
    if (this.bmpDataOffset < 14 + dibSize) throw malformed('bmp: pixel data offset overlaps the headers');
    this.expect('bmp-dib', dibSize === 12 ? 8 : 16);
  }

  /** `d` holds the DIB header from byte 4 on (after its size field). */
  private onBmpDibHeader(d: Uint8Array): void {
    const core = this.bmpDibSize === 12;
    const width = core ? u16le(d, 0) : i32le(d, 0);
    const rawHeight = core ? u16le(d, 2) : i32le(d, 4);
    const planes = core ? u16le(d, 4) : u16le(d, 8);
    const bitCount = core ? u16le(d, 6) : u16le(d, 10);
    const compression = core ? 0 : u32le(d, 12);
    // Negative height means top-down row order; negative width has no meaning.
    const height = Math.abs(rawHeight);
    if (width <= 0 || height === 0) throw malformed(`bmp: invalid dimensions ${width}x${rawHeight}`);
    if (planes !== 1) throw malformed(`bmp: ${planes} colour planes`);
    if (!BMP_BIT_COUNTS.has(bitCount)) throw malformed(`bmp: unsupported bit count ${bitCount}`);
    if (compression > BMP_MAX_COMPRESSION) throw malformed(`bmp: unknown compression ${compression}`);
    let required = this.bmpDataOffset;
    if (BMP_RAW_COMPRESSIONS.has(compression)) {
      const rowSize = Math.floor((bitCount * width + 31) / 32) * 4;
      required += rowSize * height;
    }
    this.bmpRequiredLength = required;
    this.setInfo('bmp', width, height);
    this.expect('bmp-body', 1);
  }
}

/** Probes a complete in-memory file. */
export function probeImage(bytes: Uint8Array): ImageInfo {
  const probe = new ImageProbe();
  probe.push(bytes);
  return probe.finish();
}
