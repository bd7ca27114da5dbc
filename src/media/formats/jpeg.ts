/**
 * JPEG after "FF D8 FF": walks the marker segments (skipping their bodies, APPn thumbnails included) to the one
 * frame header (SOFn) that gives the size, then the scans to EOI. A second frame header, a DNL or hierarchical mode
 * would give another size, and is refused. Images concatenated right after EOI (MPO, gain maps) are walked too, and
 * the largest of their frames is the size reported.
 */
import { type ImageInfo, malformed } from '../image-info.js';
import { u16be } from './bytes.js';
import { FormatProbe } from './format-probe.js';

const EOI = 0xd9;
const SOI = 0xd8;
const SOS = 0xda;
const DNL = 0xdc;
const DHP = 0xde;
const EXP = 0xdf;
const TEM = 0x01;

type State = 'marker-ff' | 'marker-code' | 'seg-len' | 'frame' | 'scan' | 'next-image' | 'done';

/** SOF0..SOF15 share the C0..CF range with DHT (C4), JPG (C8) and DAC (CC), which carry no frame header. */
function isFrameHeader(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** SOF5-7 and SOF13-15 are the differential frames of hierarchical mode. */
function isDifferentialFrame(marker: number): boolean {
  return (marker >= 0xc5 && marker <= 0xc7) || (marker >= 0xcd && marker <= 0xcf);
}

function isRestart(marker: number): boolean {
  return marker >= 0xd0 && marker <= 0xd7;
}

export class JpegProbe extends FormatProbe<State> {
  private marker = 0;
  private frameRest = 0;
  private sawFrame = false;
  private sawScan = false;
  private scanAfterFF = false;
  private largestPixels = 0;

  constructor() {
    super('jpeg', 'marker-code', 1);
  }

  finish(): ImageInfo {
    return this.verdict(this.state === 'next-image' || this.state === 'done');
  }

  protected onField(d: Uint8Array): void {
    switch (this.state) {
      case 'marker-ff':
        if (d[0] !== 0xff) throw malformed('jpeg: expected a marker after a segment');
        return this.expect('marker-code', 1);
      case 'marker-code':
        return this.onMarker(d[0]!);
      case 'seg-len':
        return this.onSegmentLength(u16be(d, 0));
      case 'frame':
        return this.onFrameHeader(d);
      case 'next-image':
        return this.onAfterImage(d);
      case 'scan':
      case 'done':
        // Never reached with a field: the scan reads bytes itself, and after 'done' nothing is read.
        return;
    }
  }

  private onMarker(marker: number): void {
    if (marker === 0xff) return this.expect('marker-code', 1); // fill byte before a marker
    this.marker = marker;
    if (marker === EOI) {
      if (!this.sawScan) throw malformed('jpeg: EOI before any scan');
      return this.expect('next-image', 3);
    }
    if (marker === SOI) throw malformed('jpeg: SOI inside the image');
    // TEM and stray RSTn carry no length; decoders skip them.
    if (marker === TEM || isRestart(marker)) return this.expect('marker-ff', 1);
    if (marker < 0xc0) throw malformed(`jpeg: invalid marker 0x${marker.toString(16)}`);
    // A DNL may only follow a frame header of height 0, which is refused: any DNL redefines a known height.
    if (marker === DNL) throw malformed('jpeg: DNL marker redefines the height of the frame');
    if (marker === DHP || marker === EXP || isDifferentialFrame(marker)) {
      throw malformed(`jpeg: hierarchical mode (marker 0x${marker.toString(16)}) has several frame sizes`);
    }
    if (isFrameHeader(marker) && this.sawFrame) throw malformed('jpeg: a second frame header (SOF) in one image');
    this.expect('seg-len', 2);
  }

  private onSegmentLength(length: number): void {
    if (length < 2) throw malformed('jpeg: segment length below 2');
    const body = length - 2;
    const marker = this.marker;
    if (isFrameHeader(marker)) {
      if (body < 6) throw malformed('jpeg: frame header too short');
      this.frameRest = body - 6;
      return this.expect('frame', 6);
    }
    if (marker === SOS) {
      if (!this.sawFrame) throw malformed('jpeg: SOS before any SOF');
      this.sawScan = true;
      this.scanAfterFF = false;
      this.scanning = true;
      return this.expect('scan', 1, body);
    }
    this.expect('marker-ff', 1, body);
  }

  /** `d` holds precision, height, width and the component count. */
  private onFrameHeader(d: Uint8Array): void {
    const height = u16be(d, 1);
    const width = u16be(d, 3);
    const components = d[5]!;
    // Exactly three bytes per component, as libjpeg requires: extra bytes would hide data a decoder may read.
    if (components === 0 || this.frameRest !== 3 * components) {
      throw malformed('jpeg: frame header length does not match its component count');
    }
    // Height 0 would defer the height to a DNL marker after the first scan; the probe
    // promises dimensions from the header, and such files are practically nonexistent.
    if (width === 0 || height === 0) throw malformed(`jpeg: invalid dimensions ${width}x${height}`);
    this.sawFrame = true;
    if (width * height > this.largestPixels) {
      this.largestPixels = width * height;
      this.report(width, height);
    }
    this.expect('marker-ff', 1, this.frameRest);
  }

  /** After EOI: "FF D8 FF" starts another image in the same file; anything else is trailing bytes, ignored. */
  private onAfterImage(d: Uint8Array): void {
    if (d[0] === 0xff && d[1] === SOI && d[2] === 0xff) {
      this.sawFrame = false;
      this.sawScan = false;
      return this.expect('marker-code', 1);
    }
    this.rest('done');
  }

  /**
   * Scans entropy-coded data for the next marker. Only "FF xx" pairs matter: FF 00 is a
   * stuffed data byte, FF D0..D7 are restart markers inside the scan, repeated FFs are
   * fill; any other pair ends the scan (EOI, or DHT/SOS/... between progressive scans).
   */
  protected override scan(chunk: Uint8Array, start: number): number {
    const n = chunk.length;
    let pos = start;
    while (pos < n) {
      if (!this.scanAfterFF) {
        const ff = chunk.indexOf(0xff, pos);
        if (ff < 0) return n;
        this.scanAfterFF = true;
        pos = ff + 1;
        continue;
      }
      const b = chunk[pos++]!;
      if (b === 0xff) continue;
      this.scanAfterFF = false;
      if (b === 0x00 || isRestart(b)) continue;
      this.scanning = false;
      this.onMarker(b);
      return pos;
    }
    return pos;
  }
}
