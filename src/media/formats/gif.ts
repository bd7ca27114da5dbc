/**
 * GIF after "GIF87a"/"GIF89a": the logical screen, then the block structure to the trailer. The size reported is
 * the canvas any decoder may need: the screen grown to cover every frame (image descriptor) and every plain-text
 * grid, since some decoders enlarge the canvas for a frame that does not fit rather than clip or refuse it.
 */
import { type ImageInfo, malformed } from '../image-info.js';
import { u16le } from './bytes.js';
import { FormatProbe } from './format-probe.js';

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;
const PLAIN_TEXT = 0x01;

type State = 'screen' | 'screen-rest' | 'block' | 'ext-label' | 'text' | 'image' | 'lzw-min' | 'sub' | 'done';

/** Bytes of the colour table that `packed` (screen or image descriptor flags) announces. */
function colourTableBytes(packed: number): number {
  return packed & 0x80 ? 3 << ((packed & 7) + 1) : 0;
}

export class GifProbe extends FormatProbe<State> {
  private width = 0;
  private height = 0;
  private sawImage = false;

  constructor() {
    super('gif', 'screen', 4);
  }

  finish(): ImageInfo {
    return this.verdict(this.state === 'done');
  }

  protected onField(d: Uint8Array): void {
    switch (this.state) {
      case 'screen':
        return this.onScreen(d);
      case 'screen-rest':
        return this.expect('block', 1, colourTableBytes(d[0]!));
      case 'block':
        return this.onBlock(d[0]!);
      case 'ext-label':
        return d[0] === PLAIN_TEXT ? this.expect('text', 13) : this.expect('sub', 1);
      case 'text':
        return this.onPlainText(d);
      case 'image':
        return this.onImageDescriptor(d);
      case 'lzw-min':
        return this.onLzwMinimum(d[0]!);
      case 'sub':
        return d[0] === 0 ? this.expect('block', 1) : this.expect('sub', 1, d[0]!);
      case 'done':
        return;
    }
  }

  private onScreen(d: Uint8Array): void {
    const width = u16le(d, 0);
    const height = u16le(d, 2);
    if (width === 0 || height === 0) throw malformed(`gif: invalid dimensions ${width}x${height}`);
    this.width = width;
    this.height = height;
    this.report(width, height);
    this.expect('screen-rest', 3);
  }

  /** Grows the canvas to cover a rectangle that ends at (right, bottom). */
  private cover(right: number, bottom: number): void {
    if (right <= this.width && bottom <= this.height) return;
    this.width = Math.max(this.width, right);
    this.height = Math.max(this.height, bottom);
    this.report(this.width, this.height);
  }

  /**
   * Walks the block structure rather than just checking the last byte for 0x3B: a
   * truncated file can easily end on a 0x3B inside a colour table or LZW data, and
   * walking also lets bytes after the real trailer be tolerated.
   */
  private onBlock(introducer: number): void {
    switch (introducer) {
      case EXTENSION:
        return this.expect('ext-label', 1);
      case IMAGE:
        return this.expect('image', 9);
      case TRAILER:
        if (!this.sawImage) throw malformed('gif: trailer before any image');
        return this.rest('done');
      default:
        throw malformed(`gif: unexpected block introducer 0x${introducer.toString(16)}`);
    }
  }

  /** `d`: block size, then the text grid's left, top, width, height and four bytes of cell size and colours. */
  private onPlainText(d: Uint8Array): void {
    if (d[0] !== 12) throw malformed(`gif: plain text extension header of ${d[0]} bytes`);
    this.cover(u16le(d, 1) + u16le(d, 5), u16le(d, 3) + u16le(d, 7));
    this.expect('sub', 1);
  }

  /** `d`: left, top, width, height, flags. */
  private onImageDescriptor(d: Uint8Array): void {
    this.cover(u16le(d, 0) + u16le(d, 4), u16le(d, 2) + u16le(d, 6));
    this.expect('lzw-min', 1, colourTableBytes(d[8]!));
  }

  private onLzwMinimum(bits: number): void {
    // Decoders cap LZW codes at 12 bits, so the initial code size (bits + 1) must stay below that.
    if (bits < 1 || bits > 11) throw malformed(`gif: invalid LZW minimum code size ${bits}`);
    this.sawImage = true;
    this.expect('sub', 1);
  }
}
