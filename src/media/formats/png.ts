/**
 * PNG after its 8-byte signature: IHDR (first, once, CRC-checked) gives the size; every later chunk is skipped by
 * its length except APNG frame controls (fcTL), whose frames must lie inside the IHDR canvas; the image is complete
 * at IEND after at least one IDAT.
 */
import { type ImageInfo, malformed } from '../image-info.js';
import { u32be } from './bytes.js';
import { crc32 } from './crc32.js';
import { FormatProbe } from './format-probe.js';

const MAX_DIMENSION = 0x7fffffff;
const ALLOWED_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const TYPE_IHDR = 0x49484452;
const TYPE_IDAT = 0x49444154;
const TYPE_IEND = 0x49454e44;
const TYPE_FCTL = 0x6663544c;
const FCTL_LENGTH = 26;

/** CRC of the chunk type "IHDR", which the chunk CRC covers ahead of the data. */
const IHDR_TYPE_CRC = crc32(new Uint8Array([0x49, 0x48, 0x44, 0x52]));

type State = 'ihdr-head' | 'ihdr-body' | 'chunk-head' | 'fctl' | 'iend-crc' | 'done';

function isAsciiLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

export class PngProbe extends FormatProbe<State> {
  private width = 0;
  private height = 0;
  private sawIdat = false;

  constructor() {
    super('png', 'ihdr-head', 8);
  }

  finish(): ImageInfo {
    return this.verdict(this.state === 'done');
  }

  protected onField(d: Uint8Array): void {
    switch (this.state) {
      case 'ihdr-head':
        return this.onIhdrHead(d);
      case 'ihdr-body':
        return this.onIhdrBody(d);
      case 'chunk-head':
        return this.onChunkHead(d);
      case 'fctl':
        return this.onFrameControl(d);
      case 'iend-crc':
        return this.rest('done');
      case 'done':
        return;
    }
  }

  private onIhdrHead(d: Uint8Array): void {
    if (u32be(d, 0) !== 13 || u32be(d, 4) !== TYPE_IHDR) throw malformed('png: first chunk is not a 13-byte IHDR');
    this.expect('ihdr-body', 17);
  }

  private onIhdrBody(d: Uint8Array): void {
    if (crc32(d.subarray(0, 13), IHDR_TYPE_CRC) !== u32be(d, 13)) throw malformed('png: IHDR CRC mismatch');
    const width = u32be(d, 0);
    const height = u32be(d, 4);
    if (width < 1 || width > MAX_DIMENSION || height < 1 || height > MAX_DIMENSION) {
      throw malformed(`png: invalid dimensions ${width}x${height}`);
    }
    const bitDepth = d[8]!;
    const colourType = d[9]!;
    if (!ALLOWED_DEPTHS[colourType]?.includes(bitDepth)) {
      throw malformed(`png: bit depth ${bitDepth} is invalid for colour type ${colourType}`);
    }
    if (d[10] !== 0 || d[11] !== 0 || (d[12] !== 0 && d[12] !== 1)) {
      throw malformed('png: unknown compression, filter or interlace method');
    }
    this.width = width;
    this.height = height;
    this.report(width, height);
    this.expect('chunk-head', 8);
  }

  private onChunkHead(d: Uint8Array): void {
    const length = u32be(d, 0);
    if (length > 0x7fffffff) throw malformed('png: chunk length exceeds 2^31-1');
    for (let i = 4; i < 8; i++) {
      if (!isAsciiLetter(d[i]!)) throw malformed('png: invalid chunk type');
    }
    const type = u32be(d, 4);
    if (type === TYPE_IHDR) throw malformed('png: duplicate IHDR');
    if (type === TYPE_IEND) {
      if (length !== 0) throw malformed('png: IEND must be empty');
      if (!this.sawIdat) throw malformed('png: IEND before any IDAT');
      return this.expect('iend-crc', 4);
    }
    if (type === TYPE_FCTL) {
      // Checked whatever its CRC says or whether an acTL came first: some decoder may use it regardless.
      if (length !== FCTL_LENGTH) throw malformed(`png: fcTL of ${length} bytes`);
      return this.expect('fctl', FCTL_LENGTH);
    }
    if (type === TYPE_IDAT) this.sawIdat = true;
    // Chunk bodies (and their CRCs) are skipped unverified: only IHDR and fcTL matter for the
    // verdict, and checking every CRC would cost a full pass over the upload.
    this.expect('chunk-head', 8, length + 4);
  }

  /** An APNG frame (fcTL: sequence, width, height, x, y, ...) must fit the canvas IHDR declares, as the APNG spec requires. */
  private onFrameControl(d: Uint8Array): void {
    const width = u32be(d, 4);
    const height = u32be(d, 8);
    const x = u32be(d, 12);
    const y = u32be(d, 16);
    const where = `${width}x${height} at ${x},${y}`;
    if (width === 0 || height === 0 || x + width > this.width || y + height > this.height) {
      throw malformed(`png: APNG frame ${where} is not inside the ${this.width}x${this.height} image`);
    }
    // A frame control before the first IDAT describes the default image, which is the whole canvas.
    if (!this.sawIdat && (x !== 0 || y !== 0 || width !== this.width || height !== this.height)) {
      throw malformed(`png: APNG default image frame ${where} differs from IHDR ${this.width}x${this.height}`);
    }
    this.expect('chunk-head', 8, 4);
  }
}
