/**
 * What every format's probe shares: feeding the bytes that follow the magic number through the format's header
 * fields, a few bytes at a time, while everything else (chunk bodies, segments, sub-blocks, pixel data) is skipped
 * by counting, never copied. Each format keeps its own parsing state in its subclass.
 */
import { type ImageFormat, type ImageInfo, ImageProbeError, imageInfo } from '../image-info.js';

/** Largest field any format asks for at once (APNG fcTL body = 26 bytes). */
export const FIELD_CAPACITY = 32;

export abstract class FormatProbe<State extends string = string> {
  /** What the next field (or the scan) is, in the format's own terms. */
  protected state: State;
  /** Bytes the next field needs; 0 once the rest of the input is only counted (pixel data, trailing bytes). */
  private need: number;
  private skip = 0;
  private readonly field = new Uint8Array(FIELD_CAPACITY);
  private fieldLen = 0;
  /** Set while the format reads bytes itself through `scan` (JPEG entropy-coded data). */
  protected scanning = false;
  private reported: ImageInfo | undefined;

  constructor(
    private readonly format: ImageFormat,
    state: State,
    need: number,
  ) {
    this.state = state;
    this.need = need;
  }

  /** The largest size the headers read so far allow; a new object whenever a later header makes it larger. */
  get info(): ImageInfo | undefined {
    return this.reported;
  }

  get bufferedBytes(): number {
    return this.fieldLen;
  }

  feed(chunk: Uint8Array, start: number): void {
    const n = chunk.length;
    let pos = start;
    while (pos < n) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - pos);
        this.skip -= step;
        pos += step;
        continue;
      }
      if (this.need === 0) return;
      if (this.scanning) {
        pos = this.scan(chunk, pos);
        continue;
      }
      // Fields are at most FIELD_CAPACITY bytes: a byte loop beats a subarray + set per field.
      const end = Math.min(pos + this.need - this.fieldLen, n);
      const field = this.field;
      let len = this.fieldLen;
      while (pos < end) field[len++] = chunk[pos++]!;
      if (len === this.need) {
        this.fieldLen = 0;
        // `field` is not written again before the handler returns, so handlers read it in place.
        this.onField(field);
      } else {
        this.fieldLen = len;
      }
    }
  }

  /** The verdict at the end of the input: the image's info, or why there is none. */
  abstract finish(bytesSeen: number): ImageInfo;

  /** Handles the field asked for by the last `expect` (its first `need` bytes). */
  protected abstract onField(d: Uint8Array): void;

  /** Reads from `pos` on while `scanning`; returns where the field reading resumes. */
  protected scan(chunk: Uint8Array, _pos: number): number {
    return chunk.length;
  }

  /** The next `need` bytes (at most FIELD_CAPACITY) form the field `state`, after `skip` bytes that do not matter. */
  protected expect(state: State, need: number, skip = 0): void {
    this.state = state;
    this.need = need;
    this.skip = skip;
  }

  /** Everything from here on is only counted. */
  protected rest(state: State): void {
    this.state = state;
    this.need = 0;
    this.skip = 0;
  }

  /** Reports the size the 10-megapixel rule must see; an unchanged size keeps the same object. */
  protected report(width: number, height: number): void {
    const now = this.reported;
    if (now !== undefined && now.width === width && now.height === height) return;
    this.reported = imageInfo(this.format, width, height);
  }

  /** The info when `complete`, otherwise the truncation error. */
  protected verdict(complete: boolean, detail = 'ends before the end of the image'): ImageInfo {
    if (complete && this.reported !== undefined) return this.reported;
    throw new ImageProbeError('truncated', `${this.format} ${detail}`);
  }
}
