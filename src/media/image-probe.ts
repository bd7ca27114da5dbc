/**
 * Streaming image sniffer: decides a photo's format from its magic number, then feeds the rest of the upload to
 * that format's probe (media/formats/), which reads the dimensions from the headers as they stream through.
 *
 * Memory stays constant whatever the input size: a probe only ever holds the few header bytes it is about to
 * interpret (at most FIELD_CAPACITY), and everything else is skipped by counting lengths, never copied.
 *
 * `info` is the largest size the headers read so far allow: when a later header (a GIF frame beyond the logical
 * screen, a larger image concatenated to a JPEG) grows it, `info` becomes a new, larger object, and `finish()`
 * returns the final one. Headers that contradict each other are refused as malformed.
 */
import { BmpProbe } from './formats/bmp.js';
import type { FormatProbe } from './formats/format-probe.js';
import { GifProbe } from './formats/gif.js';
import { JpegProbe } from './formats/jpeg.js';
import { PngProbe } from './formats/png.js';
import { type ImageInfo, ImageProbeError } from './image-info.js';

export { crc32 } from './formats/crc32.js';
export { type ImageFormat, type ImageInfo, ImageProbeError, type ImageProbeFailure } from './image-info.js';

const MAGICS: ReadonlyArray<{ bytes: readonly number[]; start: () => FormatProbe }> = [
  { bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], start: () => new PngProbe() },
  // The third byte is the 0xFF that starts the first marker after SOI; requiring it
  // keeps "FF D8" followed by junk from being taken for a JPEG.
  { bytes: [0xff, 0xd8, 0xff], start: () => new JpegProbe() },
  { bytes: [0x47, 0x49, 0x46, 0x38, 0x37, 0x61], start: () => new GifProbe() }, // GIF87a
  { bytes: [0x47, 0x49, 0x46, 0x38, 0x39, 0x61], start: () => new GifProbe() }, // GIF89a
  { bytes: [0x42, 0x4d], start: () => new BmpProbe() }, // BM
];
const LONGEST_MAGIC = 8;

function notAnImage(): ImageProbeError {
  return new ImageProbeError('unsupported_format', 'input is not a PNG, JPEG, GIF or BMP image');
}

export class ImageProbe {
  private format: FormatProbe | undefined;
  private readonly sniffed = new Uint8Array(LONGEST_MAGIC);
  private sniffedLen = 0;
  private total = 0;
  private failure: ImageProbeError | undefined;

  get info(): ImageInfo | undefined {
    return this.format?.info;
  }

  /** Bytes currently held back for header parsing; exposed so tests can check the memory bound. */
  get bufferedBytes(): number {
    return this.format === undefined ? this.sniffedLen : this.format.bufferedBytes;
  }

  /** Total bytes fed so far, including any tolerated trailing bytes. */
  get bytesSeen(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    try {
      this.total += chunk.length;
      if (this.format !== undefined) this.format.feed(chunk, 0);
      else this.sniff(chunk);
    } catch (err) {
      throw this.fail(err);
    }
  }

  finish(): ImageInfo {
    if (this.failure !== undefined) throw this.failure;
    try {
      if (this.format === undefined) {
        if (this.total === 0) throw new ImageProbeError('unsupported_format', 'empty input');
        throw notAnImage();
      }
      return this.format.finish(this.total);
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

  /** Matches the magic numbers byte by byte (they may arrive split over chunks), then hands the rest over. */
  private sniff(chunk: Uint8Array): void {
    for (let pos = 0; pos < chunk.length; pos++) {
      this.sniffed[this.sniffedLen++] = chunk[pos]!;
      const len = this.sniffedLen;
      let alive = false;
      for (const magic of MAGICS) {
        if (!startsWith(magic.bytes, this.sniffed, len)) continue;
        if (magic.bytes.length === len) {
          this.sniffedLen = 0;
          this.format = magic.start();
          return this.format.feed(chunk, pos + 1);
        }
        alive = true;
      }
      if (!alive) throw notAnImage();
    }
  }
}

/** Whether the first `len` bytes of `seen` are a prefix of `magic`. */
function startsWith(magic: readonly number[], seen: Uint8Array, len: number): boolean {
  if (magic.length < len) return false;
  for (let i = 0; i < len; i++) if (magic[i] !== seen[i]) return false;
  return true;
}

/** Probes a complete in-memory file. */
export function probeImage(bytes: Uint8Array): ImageInfo {
  const probe = new ImageProbe();
  probe.push(bytes);
  return probe.finish();
}
