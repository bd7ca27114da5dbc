import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  ImageProbe,
  ImageProbeError,
  probeImage,
  type ImageFormat,
  type ImageInfo,
  type ImageProbeFailure,
} from '../../src/media/image-probe.js';
import { FIELD_CAPACITY } from '../../src/media/formats/format-probe.js';
import {
  apng,
  bmp,
  type BmpHeader,
  bmpImage,
  type BmpOptions,
  gif,
  gifFrames,
  JPEG_MAX_SEGMENT_BODY,
  jpeg,
  jpegFrameHeader,
  jpegSegment,
  pad,
  png,
  pngChunk,
  pngHeaderOnly,
  type Rect,
  referenceCrc32,
} from '../helpers/images.js';

const GENERATORS: Record<ImageFormat, (w: number, h: number) => Buffer> = { png, jpeg, gif, bmp };
const META: Record<ImageFormat, { mimeType: string; extension: string }> = {
  png: { mimeType: 'image/png', extension: 'png' },
  jpeg: { mimeType: 'image/jpeg', extension: 'jpg' },
  gif: { mimeType: 'image/gif', extension: 'gif' },
  bmp: { mimeType: 'image/bmp', extension: 'bmp' },
};
const FORMATS = Object.keys(GENERATORS) as ImageFormat[];

function expected(format: ImageFormat, width: number, height: number): ImageInfo {
  return { format, width, height, ...META[format] };
}

/** Runs `fn` and returns the ImageProbeError reason; fails the test on success or on any other error type. */
function reasonOf(fn: () => unknown): ImageProbeFailure {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageProbeError);
    return (err as ImageProbeError).reason;
  }
  throw new Error('expected an ImageProbeError, but nothing was thrown');
}

/** Splits `bytes` at the given cut points (taken modulo length+1, so any integers are valid). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, p)); // empty chunks included on purpose
    start = p;
  }
  return chunks;
}

type Outcome = { ok: true; info: ImageInfo } | { ok: false; reason: ImageProbeFailure };

/**
 * Streams the chunks, checking on every step that `info`, once set, only ever changes to a larger size of the same
 * format (a later header that allows more pixels), and that the probe holds at most FIELD_CAPACITY bytes.
 */
function streamOutcome(chunks: readonly Uint8Array[]): Outcome {
  const probe = new ImageProbe();
  let seen: ImageInfo | undefined;
  const observe = (): void => {
    const now = probe.info;
    expect(probe.bufferedBytes).toBeLessThanOrEqual(FIELD_CAPACITY);
    if (seen !== undefined && now !== seen) {
      expect(now?.format).toBe(seen.format);
      expect(now!.width * now!.height).toBeGreaterThan(seen.width * seen.height);
    }
    seen = now;
  };
  try {
    for (const chunk of chunks) {
      probe.push(chunk);
      observe();
    }
    const info = probe.finish();
    observe();
    return { ok: true, info };
  } catch (err) {
    observe();
    if (!(err instanceof ImageProbeError)) throw err;
    return { ok: false, reason: err.reason };
  }
}

function wholeOutcome(bytes: Uint8Array): Outcome {
  try {
    return { ok: true, info: probeImage(bytes) };
  } catch (err) {
    if (!(err instanceof ImageProbeError)) throw err;
    return { ok: false, reason: err.reason };
  }
}

function indexOfBytes(haystack: Uint8Array, needle: readonly number[], from = 0): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle), from);
}

describe('crc32', () => {
  it('matches the reference implementation and the PNG IEND constant', () => {
    const samples = [Buffer.from('IEND'), Buffer.from('123456789'), randomBytes(1000), Buffer.alloc(0)];
    for (const s of samples) expect(crc32(s)).toBe(referenceCrc32(s));
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('probeImage on generated images', () => {
  const sizes: Array<[number, number]> = [
    [1, 1],
    [3, 2],
    [640, 480],
    [4000, 3000],
  ];
  const cases = FORMATS.flatMap((format) => sizes.map(([w, h]) => [format, w, h] as const));

  it.each(cases)('%s %ix%i', (format, w, h) => {
    expect(probeImage(GENERATORS[format](w, h))).toEqual(expected(format, w, h));
  });

  it.each(FORMATS)('%s padded with trailing zeros to 10 MB is still accepted', (format) => {
    const bytes = pad(GENERATORS[format](800, 600), 10 * 1024 * 1024);
    expect(bytes.length).toBe(10 * 1024 * 1024);
    expect(probeImage(bytes)).toEqual(expected(format, 800, 600));
  });

  it('reads a JPEG whose 100 KiB of EXIF comes before the SOF', () => {
    const bytes = jpeg(1024, 768, { exifBytes: 100 * 1024 });
    expect(bytes.length).toBeGreaterThan(100 * 1024);
    expect(probeImage(bytes)).toEqual(expected('jpeg', 1024, 768));
  });

  it('recognises a progressive (SOF2) JPEG with several scans', () => {
    const base = jpeg(320, 200);
    const sof = indexOfBytes(base, [0xff, 0xc0]);
    expect(sof).toBeGreaterThan(0);
    const progressive = Buffer.from(base);
    progressive[sof + 1] = 0xc2;
    // A second scan, preceded by its own DHT, exercises the "marker after entropy data" path.
    const eoi = progressive.length - 2;
    const dht = Buffer.from([0xff, 0xc4, 0x00, 0x14, 0x10, 0, 1, ...new Array<number>(14).fill(0), 0x00]);
    const sos = Buffer.from([0xff, 0xda, 0x00, 0x08, 1, 1, 0x00, 1, 63, 0x10]);
    const scan = Buffer.from([0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56]);
    const multiScan = Buffer.concat([progressive.subarray(0, eoi), dht, sos, scan, Buffer.from([0xff, 0xd9])]);
    expect(probeImage(progressive)).toEqual(expected('jpeg', 320, 200));
    expect(probeImage(multiScan)).toEqual(expected('jpeg', 320, 200));
  });

  it('tolerates JPEG fill bytes, restart markers and stuffed zeros', () => {
    const base = jpeg(64, 64);
    const dqt = indexOfBytes(base, [0xff, 0xdb]);
    const eoi = base.length - 2;
    const bytes = Buffer.concat([
      base.subarray(0, dqt),
      Buffer.from([0xff, 0xff, 0xff]), // fill before DQT's marker
      base.subarray(dqt, eoi),
      Buffer.from([0xff, 0x00, 0xff, 0xd7, 0x00, 0xff, 0xff, 0xd9]), // stuffed FF, RST7, fill, EOI
    ]);
    expect(probeImage(bytes)).toEqual(expected('jpeg', 64, 64));
  });

  it('reads a PNG with a large ancillary chunk before IDAT', () => {
    expect(probeImage(png(10, 20, { extraChunkBytes: 300_000 }))).toEqual(expected('png', 10, 20));
  });

  it('uses the absolute height of a top-down BMP', () => {
    const bytes = bmp(7, 5);
    bytes.writeInt32LE(-5, 22);
    expect(probeImage(bytes)).toEqual(expected('bmp', 7, 5));
  });

  it('reads a BITMAPCOREHEADER BMP', () => {
    const rowSize = Math.floor((24 * 5 + 31) / 32) * 4;
    const bytes = Buffer.alloc(26 + rowSize * 3);
    bytes.write('BM', 0, 'latin1');
    bytes.writeUInt32LE(bytes.length, 2);
    bytes.writeUInt32LE(26, 10);
    bytes.writeUInt32LE(12, 14);
    bytes.writeUInt16LE(5, 18);
    bytes.writeUInt16LE(3, 20);
    bytes.writeUInt16LE(1, 22);
    bytes.writeUInt16LE(24, 24);
    expect(probeImage(bytes)).toEqual(expected('bmp', 5, 3));
    expect(reasonOf(() => probeImage(bytes.subarray(0, bytes.length - 1)))).toBe('truncated');
  });

  it('reads a GIF87a with extensions before the image', () => {
    const base = gif(9, 4);
    const bytes = Buffer.from(base);
    bytes.write('87a', 3, 'latin1');
    const descriptor = 13 + 6;
    const comment = Buffer.from([0x21, 0xfe, 3, 0x61, 0x62, 0x63, 0]);
    const withExtension = Buffer.concat([bytes.subarray(0, descriptor), comment, bytes.subarray(descriptor)]);
    expect(probeImage(bytes)).toEqual(expected('gif', 9, 4));
    expect(probeImage(withExtension)).toEqual(expected('gif', 9, 4));
  });

  it.each([
    ['png', 33],
    ['gif', 10],
    ['bmp', 34],
  ] as const)('defines %s info after the first %i bytes, before the body', (format, headerBytes) => {
    const bytes = GENERATORS[format](4000, 3000);
    const probe = new ImageProbe();
    probe.push(bytes.subarray(0, headerBytes - 1));
    expect(probe.info).toBeUndefined();
    probe.push(bytes.subarray(headerBytes - 1, headerBytes));
    expect(probe.info).toEqual(expected(format, 4000, 3000));
  });

  it('defines jpeg info as soon as the SOF header arrives, even after large EXIF', () => {
    const bytes = jpeg(4000, 3000, { exifBytes: 200_000 });
    const sofEnd = indexOfBytes(bytes, [0xff, 0xc0]) + 10;
    const probe = new ImageProbe();
    probe.push(bytes.subarray(0, sofEnd - 1));
    expect(probe.info).toBeUndefined();
    probe.push(bytes.subarray(sofEnd - 1, sofEnd));
    expect(probe.info).toEqual(expected('jpeg', 4000, 3000));
  });
});

describe('rejections', () => {
  it('rejects an empty input as unsupported', () => {
    expect(reasonOf(() => probeImage(new Uint8Array(0)))).toBe('unsupported_format');
    expect(reasonOf(() => new ImageProbe().finish())).toBe('unsupported_format');
  });

  it('rejects SVG on the first byte, without waiting for finish()', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>');
    const probe = new ImageProbe();
    expect(reasonOf(() => probe.push(svg.subarray(0, 1)))).toBe('unsupported_format');
    expect(reasonOf(() => probeImage(svg))).toBe('unsupported_format');
  });

  it('rejects HTML regardless of what it claims to be', () => {
    const html = Buffer.from('<!DOCTYPE html><html><body><img src="photo.png"></body></html>');
    expect(reasonOf(() => probeImage(html))).toBe('unsupported_format');
  });

  it.each([
    ['WebP', Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1'), Buffer.alloc(32)])],
    ['TIFF little-endian', Buffer.concat([Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]), Buffer.alloc(32)])],
    ['TIFF big-endian', Buffer.concat([Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]), Buffer.alloc(32)])],
    ['ICO', Buffer.concat([Buffer.from([0, 0, 1, 0, 1, 0, 16, 16]), Buffer.alloc(32)])],
    ['plain text', Buffer.from('hello, world\n')],
    ['text starting with BM', Buffer.from('BMW is a car maker, not a bitmap header of any sort.')],
    ['GIF-like but not GIF8xa', Buffer.from('GIF88a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')],
    ['random garbage', Buffer.concat([Buffer.from([0x13]), randomBytes(2048)])],
  ])('rejects %s as unsupported_format', (_name, bytes) => {
    expect(reasonOf(() => probeImage(bytes))).toBe('unsupported_format');
  });

  it('treats an incomplete magic number as unsupported, a complete one as truncated', () => {
    expect(reasonOf(() => probeImage(Buffer.from([0x89, 0x50, 0x4e])))).toBe('unsupported_format');
    expect(reasonOf(() => probeImage(Buffer.from('GIF8')))).toBe('unsupported_format');
    expect(reasonOf(() => probeImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))).toBe(
      'truncated',
    );
    expect(reasonOf(() => probeImage(Buffer.from([0xff, 0xd8, 0xff])))).toBe('truncated');
    expect(reasonOf(() => probeImage(Buffer.from('GIF89a')))).toBe('truncated');
    expect(reasonOf(() => probeImage(Buffer.from('BM')))).toBe('truncated');
  });

  it('exposes PNG dimensions right after IHDR, then reports a header-only PNG as truncated', () => {
    const header = pngHeaderOnly(4000, 3000);
    expect(header.length).toBe(33);
    const probe = new ImageProbe();
    probe.push(header);
    expect(probe.info).toEqual(expected('png', 4000, 3000));
    expect(reasonOf(() => probe.finish())).toBe('truncated');
  });

  it('rejects a PNG whose IHDR CRC is wrong as malformed', () => {
    const bytes = png(8, 8);
    bytes[29] = bytes[29]! ^ 0x01;
    expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
  });

  it('rejects PNG structural errors as malformed', () => {
    const sig = pngHeaderOnly(1, 1).subarray(0, 8);
    const ihdr = (w: number, h: number, depth = 8, colour = 2): Buffer => {
      const d = Buffer.alloc(13);
      d.writeUInt32BE(w, 0);
      d.writeUInt32BE(h, 4);
      d[8] = depth;
      d[9] = colour;
      return pngChunk('IHDR', d);
    };
    const idat = pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    const iend = pngChunk('IEND');
    const cases: Buffer[] = [
      Buffer.concat([sig, ihdr(0, 5), idat, iend]),
      Buffer.concat([sig, ihdr(5, 0), idat, iend]),
      Buffer.concat([sig, ihdr(0x80000000, 5), idat, iend]),
      Buffer.concat([sig, ihdr(5, 5, 3, 2), idat, iend]), // bit depth 3
      Buffer.concat([sig, ihdr(5, 5, 8, 5), idat, iend]), // colour type 5
      Buffer.concat([sig, pngChunk('tEXt', Buffer.from('a\0b')), ihdr(5, 5), idat, iend]), // IHDR not first
      Buffer.concat([sig, ihdr(5, 5), iend]), // no IDAT
      Buffer.concat([sig, ihdr(5, 5), ihdr(5, 5), idat, iend]),
      Buffer.concat([sig, ihdr(5, 5), Buffer.from([0, 0, 0, 0, 0x31, 0x32, 0x33, 0x34])]), // non-letter type
    ];
    for (const bytes of cases) expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
  });

  it('reports a JPEG cut in half as truncated', () => {
    const bytes = jpeg(640, 480);
    expect(reasonOf(() => probeImage(bytes.subarray(0, bytes.length >> 1)))).toBe('truncated');
  });

  it('reports a JPEG whose headers stop before SOF as truncated', () => {
    const bytes = jpeg(640, 480, { exifBytes: 10_000 });
    expect(reasonOf(() => probeImage(bytes.subarray(0, 5000)))).toBe('truncated');
  });

  it('rejects JPEG structural errors as malformed', () => {
    const base = jpeg(16, 16);
    const sof = indexOfBytes(base, [0xff, 0xc0]);
    const zeroWidth = Buffer.from(base);
    zeroWidth.writeUInt16BE(0, sof + 7);
    const sosFirst = Buffer.concat([Buffer.from([0xff, 0xd8]), base.subarray(indexOfBytes(base, [0xff, 0xda]))]);
    const junkBetweenSegments = Buffer.concat([base.subarray(0, sof), Buffer.from([0x00]), base.subarray(sof)]);
    const shortLength = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01]), base.subarray(2)]);
    for (const bytes of [zeroWidth, sosFirst, junkBetweenSegments, shortLength]) {
      expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
    }
  });

  it('reports a GIF without its trailer as truncated', () => {
    const bytes = gif(20, 10);
    expect(reasonOf(() => probeImage(bytes.subarray(0, bytes.length - 1)))).toBe('truncated');
  });

  it('rejects GIF structural errors as malformed', () => {
    const zeroSize = gif(4, 4);
    zeroSize.writeUInt16LE(0, 6);
    const noImage = Buffer.concat([gif(4, 4).subarray(0, 19), Buffer.from([0x3b])]);
    const badBlock = Buffer.concat([gif(4, 4).subarray(0, 19), Buffer.from([0x99, 0x3b])]);
    for (const bytes of [zeroSize, noImage, badBlock]) expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
  });

  it('reports a BMP cut short as truncated', () => {
    const bytes = bmp(31, 17);
    expect(reasonOf(() => probeImage(bytes.subarray(0, bytes.length - 1)))).toBe('truncated');
    expect(reasonOf(() => probeImage(bytes.subarray(0, 40)))).toBe('truncated');
  });

  it('rejects BMP structural errors as malformed', () => {
    const patched = (write: (b: Buffer) => void): Buffer => {
      const b = bmp(6, 6);
      write(b);
      return b;
    };
    const cases = [
      patched((b) => b.writeInt32LE(0, 18)), // width 0
      patched((b) => b.writeInt32LE(-6, 18)), // negative width
      patched((b) => b.writeInt32LE(0, 22)), // height 0
      patched((b) => b.writeUInt16LE(2, 26)), // planes
      patched((b) => b.writeUInt16LE(7, 28)), // bit count
      patched((b) => b.writeUInt32LE(99, 30)), // compression
      patched((b) => b.writeUInt32LE(20, 10)), // pixel offset inside the headers
    ];
    for (const bytes of cases) expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
  });

  it('keeps reporting the first failure', () => {
    const probe = new ImageProbe();
    const first = reasonOf(() => probe.push(Buffer.from('<html>')));
    expect(first).toBe('unsupported_format');
    expect(reasonOf(() => probe.push(png(1, 1)))).toBe('unsupported_format');
    expect(reasonOf(() => probe.finish())).toBe('unsupported_format');
  });
});

describe('properties', () => {
  const validImage = fc
    .record({
      format: fc.constantFrom(...FORMATS),
      width: fc.integer({ min: 1, max: 64 }),
      height: fc.integer({ min: 1, max: 64 }),
      trailing: fc.integer({ min: 0, max: 3 }),
    })
    .map(({ format, width, height, trailing }) => {
      const bytes = GENERATORS[format](width, height);
      return {
        format,
        width,
        height,
        imageLength: bytes.length,
        bytes: trailing ? pad(bytes, bytes.length + trailing) : bytes,
      };
    });
  const cuts = fc.array(fc.nat(), { maxLength: 40 });

  it('(a) streaming any valid image in any chunking equals probing it whole', () => {
    fc.assert(
      fc.property(validImage, cuts, ({ format, width, height, bytes }, cutPoints) => {
        const whole = wholeOutcome(bytes);
        expect(whole).toEqual({ ok: true, info: expected(format, width, height) });
        expect(streamOutcome(split(bytes, cutPoints))).toEqual(whole);
      }),
      { numRuns: 400 },
    );
  });

  const magicPrefixes = [
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    [0xff, 0xd8, 0xff],
    [0x47, 0x49, 0x46, 0x38, 0x37, 0x61],
    [0x47, 0x49, 0x46, 0x38, 0x39, 0x61],
    [0x42, 0x4d],
  ];
  const arbitraryBytes = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }),
    fc
      .tuple(fc.constantFrom(...magicPrefixes), fc.uint8Array({ maxLength: 4096 }))
      .map(([magic, rest]) => Buffer.concat([Buffer.from(magic), rest])),
    // Valid images with a few corrupted bytes reach the deeper parser states.
    fc
      .tuple(validImage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([{ bytes }, edits]) => {
        const copy = Buffer.from(bytes);
        for (const [at, value] of edits) copy[at % copy.length] = value;
        return copy;
      }),
  );

  it('(b) arbitrary bytes under arbitrary chunking only ever yield ImageInfo or ImageProbeError', () => {
    fc.assert(
      fc.property(arbitraryBytes, cuts, (bytes, cutPoints) => {
        // streamOutcome rethrows anything that is not an ImageProbeError, failing the property.
        const streamed = streamOutcome(split(bytes, cutPoints));
        expect(streamed).toEqual(wholeOutcome(bytes));
      }),
      { numRuns: 1500 },
    );
  });

  it('(c) any strict prefix of a valid image fails at finish()', () => {
    fc.assert(
      fc.property(validImage, fc.nat(), cuts, ({ bytes, imageLength }, cutAt, cutPoints) => {
        // Cut inside the image proper: bytes after its end marker are tolerated padding.
        const prefix = bytes.subarray(0, cutAt % imageLength);
        const outcome = streamOutcome(split(prefix, cutPoints));
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) expect(['truncated', 'malformed', 'unsupported_format']).toContain(outcome.reason);
        // Only a prefix too short to hold the magic number may be called unsupported.
        if (!outcome.ok && outcome.reason === 'unsupported_format') expect(prefix.length).toBeLessThan(8);
      }),
      { numRuns: 600 },
    );
  });

  it('(c) every prefix of each format, byte by byte, is rejected with truncated', () => {
    for (const format of FORMATS) {
      const bytes = GENERATORS[format](5, 3);
      const probe = new ImageProbe();
      let info: ImageInfo | undefined;
      for (let end = 0; end < bytes.length; end++) {
        if (end > 0) probe.push(bytes.subarray(end - 1, end));
        if (info !== undefined) expect(probe.info).toBe(info);
        info = probe.info;
        const magicLength = { png: 8, jpeg: 3, gif: 6, bmp: 2 }[format];
        const reason = reasonOf(() => {
          const fresh = new ImageProbe();
          fresh.push(bytes.subarray(0, end));
          fresh.finish();
        });
        expect(reason).toBe(end < magicLength ? 'unsupported_format' : 'truncated');
      }
    }
  });
});

describe('memory bound', () => {
  it('parses a JPEG behind 20 MB of APP1 segments fed in 64 KiB chunks, buffering at most 64 KiB', () => {
    const chunkSize = 64 * 1024;
    const app1Total = 20 * 1024 * 1024;
    const tail = jpeg(1920, 1080).subarray(2); // everything after SOI

    // Produces the stream lazily: one reusable APP1 segment and one reusable output chunk.
    function* source(): Generator<Uint8Array> {
      yield Buffer.from([0xff, 0xd8]);
      const body = JPEG_MAX_SEGMENT_BODY;
      const seg = Buffer.alloc(4 + body, 0x45);
      seg.set([0xff, 0xe1, (body + 2) >> 8, (body + 2) & 0xff]);
      for (let emitted = 0; emitted < app1Total; emitted += seg.length) yield seg;
      yield tail;
    }
    function* rechunk(parts: Iterable<Uint8Array>): Generator<Uint8Array> {
      const out = Buffer.alloc(chunkSize);
      let fill = 0;
      for (const part of parts) {
        let pos = 0;
        while (pos < part.length) {
          const n = Math.min(chunkSize - fill, part.length - pos);
          out.set(part.subarray(pos, pos + n), fill);
          fill += n;
          pos += n;
          if (fill === chunkSize) {
            yield out;
            fill = 0;
          }
        }
      }
      if (fill > 0) yield out.subarray(0, fill);
    }

    const probe = new ImageProbe();
    let maxBuffered = 0;
    let chunks = 0;
    for (const chunk of rechunk(source())) {
      probe.push(chunk);
      chunks++;
      maxBuffered = Math.max(maxBuffered, probe.bufferedBytes);
    }
    expect(chunks).toBeGreaterThanOrEqual(320);
    expect(probe.bytesSeen).toBeGreaterThan(app1Total);
    expect(probe.finish()).toEqual(expected('jpeg', 1920, 1080));
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024);
  });
});

// ---- headers that disagree (docs/compatibility.md "Images whose headers disagree") --------------

/** Probes `bytes` whole and streamed in the chunks `cuts` gives, requires both to agree, and returns the outcome. */
function outcome(bytes: Uint8Array, cuts: readonly number[] = []): Outcome {
  const whole = wholeOutcome(bytes);
  expect(streamOutcome(split(bytes, cuts))).toEqual(whole);
  return whole;
}

const cuts = fc.array(fc.nat(), { maxLength: 24 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const pixels = (r: { width: number; height: number }): number => r.width * r.height;

/** A rectangle of at least 1x1 that lies inside a `width`x`height` canvas. */
function rectInside(width: number, height: number): fc.Arbitrary<Rect> {
  return fc
    .record({ x: fc.nat(width - 1), y: fc.nat(height - 1) })
    .chain(({ x, y }) =>
      fc.record({ x: fc.constant(x), y: fc.constant(y), width: fc.integer({ min: 1, max: width - x }), height: fc.integer({ min: 1, max: height - y }) }),
    );
}

const side = fc.integer({ min: 1, max: 48 });
const ALL_SOF = [0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf];
const DIFFERENTIAL_SOF = [0xc5, 0xc6, 0xc7, 0xcd, 0xce, 0xcf];
const SINGLE_FRAME_SOF = ALL_SOF.filter((m) => !DIFFERENTIAL_SOF.includes(m));
const DNL = 0xdc;
const DHP = 0xde;

/** Every (header, bits, compression) a BMP decoder reads as documented, and whether its rows are raw. */
const BMP_VALID: ReadonlyArray<{ header: BmpHeader; bitCount: number; compression: number; raw: boolean }> = [
  ...[1, 4, 8, 24].map((bitCount) => ({ header: 'core' as const, bitCount, compression: 0, raw: true })),
  ...(['info', 'v4', 'v5'] as const).flatMap((header) => [
    ...[1, 4, 8, 16, 24, 32].map((bitCount) => ({ header, bitCount, compression: 0, raw: true })),
    { header, bitCount: 8, compression: 1, raw: false },
    { header, bitCount: 4, compression: 2, raw: false },
    ...[16, 32].flatMap((bitCount) => [3, 6].map((compression) => ({ header, bitCount, compression, raw: true }))),
  ]),
  ...[1, 4, 8, 16, 24, 32].map((bitCount) => ({ header: 'os2' as const, bitCount, compression: 0, raw: true })),
  { header: 'os2', bitCount: 8, compression: 1, raw: false },
  { header: 'os2', bitCount: 4, compression: 2, raw: false },
  { header: 'os2', bitCount: 1, compression: 3, raw: false }, // Huffman 1D
  { header: 'os2', bitCount: 24, compression: 4, raw: false }, // RLE24
];

/** Header combinations that contradict themselves, for the Windows headers (INFO, V4, V5). */
const BMP_CONTRADICTIONS: ReadonlyArray<[string, BmpOptions]> = [
  ['RLE8 with 24 bits per pixel', { compression: 1, bitCount: 24 }],
  ['RLE4 with 8 bits per pixel', { compression: 2, bitCount: 8 }],
  ['bit fields with 24 bits per pixel', { compression: 3, bitCount: 24 }],
  ['alpha bit fields with 8 bits per pixel', { compression: 6, bitCount: 8 }],
  ['an embedded JPEG (BI_JPEG), whose own header is not read', { compression: 4, bitCount: 24 }],
  ['an embedded PNG (BI_PNG), whose own header is not read', { compression: 5, bitCount: 24 }],
  ['top-down RLE8', { compression: 1, bitCount: 8, topDown: true }],
  ['top-down RLE4', { compression: 2, bitCount: 4, topDown: true }],
  ['two colour planes', { planes: 2 }],
  ['2 bits per pixel', { bitCount: 2 }],
];
const BMP_OTHER_CONTRADICTIONS: ReadonlyArray<[string, BmpOptions]> = [
  ['core header with 16 bits per pixel', { header: 'core', bitCount: 16 }],
  ['core header with 32 bits per pixel', { header: 'core', bitCount: 32 }],
  ['OS/2 Huffman 1D with 8 bits per pixel', { header: 'os2', compression: 3, bitCount: 8 }],
  ['OS/2 RLE24 with 8 bits per pixel', { header: 'os2', compression: 4, bitCount: 8 }],
  ['OS/2 compression 5', { header: 'os2', compression: 5, bitCount: 24 }],
  ['OS/2 "negative" height (unsigned there)', { header: 'os2', topDown: true }],
];

describe('headers that disagree: examples', () => {
  it('GIF: a frame beyond a small screen grows the canvas to cover it, and info grows while streaming', () => {
    const bytes = gifFrames(100, 100, [{ x: 3990, y: 2990, width: 10, height: 10 }]);
    const probe = new ImageProbe();
    probe.push(bytes.subarray(0, 13));
    const screen = probe.info;
    expect(screen).toEqual(expected('gif', 100, 100));
    probe.push(bytes.subarray(13));
    expect(probe.info).toEqual(expected('gif', 4000, 3000));
    expect(probe.finish()).toEqual(expected('gif', 4000, 3000));
    expect(screen).toEqual(expected('gif', 100, 100)); // the earlier object is not mutated
  });

  it('GIF: a screen far larger than its only frame counts the screen', () => {
    expect(probeImage(gifFrames(0xffff, 0xffff, [{ x: 0, y: 0, width: 1, height: 1 }]))).toEqual(expected('gif', 0xffff, 0xffff));
  });

  it('GIF: a plain-text grid beyond the screen counts too; a malformed plain-text header is refused', () => {
    const grid = { x: 60_000, y: 0, width: 100, height: 200 };
    expect(probeImage(gifFrames(10, 10, [{ x: 0, y: 0, width: 10, height: 10 }], { plainText: grid }))).toEqual(expected('gif', 60_100, 200));
    const bad = gifFrames(10, 10, [{ x: 0, y: 0, width: 10, height: 10 }], { plainText: grid });
    bad[21] = 11; // the plain text extension's block size (after 13 header + 6 palette + 21 01)
    expect(reasonOf(() => probeImage(bad))).toBe('malformed');
  });

  it('JPEG: a thumbnail of any size inside an APP segment does not count', () => {
    const huge = Buffer.concat([Buffer.from([0xff, 0xd8]), jpegFrameHeader(0xffff, 0xffff)]);
    expect(probeImage(jpeg(40, 30, { thumbnail: huge }))).toEqual(expected('jpeg', 40, 30));
    expect(probeImage(jpeg(40, 30, { thumbnail: jpeg(160, 120) }))).toEqual(expected('jpeg', 40, 30));
  });

  it.each([
    ['a second SOF0 of another size before the scan', { afterFrame: [jpegFrameHeader(4000, 3000)] }],
    ['a second SOF of the same size before the scan', { afterFrame: [jpegFrameHeader(40, 30)] }],
    ['a progressive SOF2 after the baseline scan', { afterScan: [jpegFrameHeader(4000, 3000, 0xc2)] }],
    ['an arithmetic SOF9 after the scan', { afterScan: [jpegFrameHeader(20, 10, 0xc9)] }],
    ['a DNL redefining the height', { afterScan: [jpegSegment(DNL, Buffer.from([0x0b, 0xb8]))] }],
    ['a DNL repeating the height', { afterScan: [jpegSegment(DNL, Buffer.from([0, 30]))] }],
    ['a DHP (hierarchical mode) before the frame', { beforeFrame: [jpegFrameHeader(4000, 3000, DHP)] }],
    ['a differential SOF5 frame', { sof: 0xc5 }],
  ])('JPEG: %s is refused as malformed', (_name, opts) => {
    expect(reasonOf(() => probeImage(jpeg(40, 30, opts)))).toBe('malformed');
  });

  it('JPEG: a frame header longer than its component list is refused as malformed', () => {
    const bytes = jpeg(40, 30);
    const sof = indexOfBytes(bytes, [0xff, 0xc0]);
    const frame = jpegSegment(0xc0, Buffer.concat([bytes.subarray(sof + 4, sof + 13), Buffer.from([0])]));
    const longer = Buffer.concat([bytes.subarray(0, sof), frame, bytes.subarray(sof + 13)]);
    expect(reasonOf(() => probeImage(longer))).toBe('malformed');
  });

  it('JPEG: every single-frame SOF type is read; a larger image concatenated after EOI grows info, a smaller one does not', () => {
    for (const sof of SINGLE_FRAME_SOF) expect(probeImage(jpeg(40, 30, { sof }))).toEqual(expected('jpeg', 40, 30));
    const primary = jpeg(100, 100);
    const probe = new ImageProbe();
    probe.push(primary);
    expect(probe.info).toEqual(expected('jpeg', 100, 100));
    probe.push(jpeg(4000, 3000));
    expect(probe.finish()).toEqual(expected('jpeg', 4000, 3000));
    expect(probeImage(Buffer.concat([jpeg(400, 300), jpeg(200, 150)]))).toEqual(expected('jpeg', 400, 300));
    // A concatenated image must be complete, like the first.
    const second = jpeg(20, 10);
    expect(reasonOf(() => probeImage(Buffer.concat([primary, second.subarray(0, second.length - 2)])))).toBe('truncated');
  });

  it('APNG: frames inside IHDR are read; a frame beyond it, or a default frame unlike IHDR, is refused', () => {
    expect(probeImage(apng(20, 10, [{ x: 5, y: 5, width: 15, height: 5 }]))).toEqual(expected('png', 20, 10));
    const refused: Buffer[] = [
      apng(20, 10, [{ x: 0, y: 0, width: 4000, height: 3000 }]),
      apng(20, 10, [{ x: 19, y: 0, width: 2, height: 1 }]),
      apng(20, 10, [{ x: 0, y: 0xffffffff, width: 1, height: 1 }]),
      apng(20, 10, [], { defaultFrame: { x: 0, y: 0, width: 10, height: 10 } }),
      apng(20, 10, [{ x: 0, y: 0, width: 0, height: 1 }]),
    ];
    for (const bytes of refused) expect(reasonOf(() => probeImage(bytes))).toBe('malformed');
    // A frame control of another length than 26 bytes.
    const short = Buffer.concat([pngHeaderOnly(20, 10), pngChunk('fcTL', Buffer.alloc(25)), png(20, 10).subarray(33)]);
    expect(reasonOf(() => probeImage(short))).toBe('malformed');
  });

  it.each(BMP_VALID)('BMP: $header header, $bitCount bits, compression $compression is read', (c) => {
    expect(probeImage(bmpImage(13, 7, c))).toEqual(expected('bmp', 13, 7));
  });

  it.each(BMP_VALID.filter((c) => c.raw && c.header !== 'core' && c.header !== 'os2'))(
    'BMP: top-down $header header, $bitCount bits, compression $compression is read',
    (c) => {
      expect(probeImage(bmpImage(13, 7, { ...c, topDown: true }))).toEqual(expected('bmp', 13, 7));
    },
  );

  it.each([...BMP_CONTRADICTIONS, ...BMP_OTHER_CONTRADICTIONS])('BMP: %s is refused as malformed', (_name, opts) => {
    expect(reasonOf(() => probeImage(bmpImage(13, 7, opts)))).toBe('malformed');
  });

  it('BMP: a height of -2^31 is refused; a huge width in a tiny file is truncated', () => {
    const minHeight = bmp(4, 4);
    minHeight.writeInt32LE(-0x80000000, 22);
    expect(reasonOf(() => probeImage(minHeight))).toBe('malformed');
    const wide = bmp(4, 4);
    wide.writeInt32LE(0x7fffffff, 18);
    const probe = new ImageProbe();
    probe.push(wide);
    expect(probe.info).toEqual(expected('bmp', 0x7fffffff, 4)); // known from the header: the 10 MP rule fires first
    expect(reasonOf(() => probe.finish())).toBe('truncated');
  });
});

describe('headers that disagree: properties', () => {
  /** Valid files with several headers that agree: the probe reports the one canvas they describe. */
  const agreeing: fc.Arbitrary<{ bytes: Buffer; want: ImageInfo }> = fc.oneof(
    fc
      .tuple(side, side)
      .chain(([w, h]) =>
        fc.record({
          w: fc.constant(w),
          h: fc.constant(h),
          frames: fc.array(rectInside(w, h), { minLength: 1, maxLength: 4 }),
          text: fc.option(rectInside(w, h), { nil: undefined }),
        }),
      )
      .map(({ w, h, frames, text }) => ({ bytes: gifFrames(w, h, frames, text ? { plainText: text } : {}), want: expected('gif', w, h) })),
    fc
      .tuple(side, side)
      .chain(([w, h]) =>
        fc.record({ w: fc.constant(w), h: fc.constant(h), frames: fc.array(rectInside(w, h), { maxLength: 4 }), defaultIsFrame: fc.boolean() }),
      )
      .map(({ w, h, frames, defaultIsFrame }) => ({
        bytes: apng(w, h, frames, defaultIsFrame ? {} : { defaultFrame: null }),
        want: expected('png', w, h),
      })),
    fc
      .record({
        w: fc.integer({ min: 1, max: 300 }),
        h: fc.integer({ min: 1, max: 300 }),
        sof: fc.constantFrom(...SINGLE_FRAME_SOF),
        thumbnail: fc.option(fc.record({ w: u16, h: u16, sof: fc.constantFrom(...ALL_SOF) }), { nil: undefined }),
      })
      .map(({ w, h, sof, thumbnail }) => ({
        bytes: jpeg(w, h, {
          sof,
          ...(thumbnail ? { thumbnail: Buffer.concat([Buffer.from([0xff, 0xd8]), jpegFrameHeader(thumbnail.w, thumbnail.h, thumbnail.sof)]) } : {}),
        }),
        want: expected('jpeg', w, h),
      })),
    fc
      .record({ w: side, h: side, variant: fc.constantFrom(...BMP_VALID), topDown: fc.boolean() })
      .map(({ w, h, variant, topDown }) => ({
        bytes: bmpImage(w, h, { ...variant, topDown: topDown && variant.raw && variant.header !== 'core' && variant.header !== 'os2' }),
        want: expected('bmp', w, h),
      })),
  );

  it('(d) valid files whose headers agree report their size, in any chunking', () => {
    fc.assert(
      fc.property(agreeing, cuts, ({ bytes, want }, c) => {
        expect(outcome(bytes, c)).toEqual({ ok: true, info: want });
      }),
      { numRuns: 400 },
    );
  });

  it('(e) GIF frames and text grids anywhere: the canvas covers the screen and all of them', () => {
    const anywhere = fc.record({ x: u16, y: u16, width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 12 }) });
    const gridAnywhere = fc.record({ x: u16, y: u16, width: u16, height: u16 });
    fc.assert(
      fc.property(side, side, fc.array(anywhere, { minLength: 1, maxLength: 4 }), fc.option(gridAnywhere, { nil: undefined }), cuts, (w, h, frames, text, c) => {
        const rects = [...frames, ...(text ? [text] : [])];
        const width = Math.max(w, ...rects.map((r) => r.x + r.width));
        const height = Math.max(h, ...rects.map((r) => r.y + r.height));
        const result = outcome(gifFrames(w, h, frames, text ? { plainText: text } : {}), c);
        expect(result).toEqual({ ok: true, info: expected('gif', width, height) });
        // What the 10 MP rule sees is at least the screen and every frame.
        const seen = pixels((result as { info: ImageInfo }).info);
        for (const r of [{ width: w, height: h }, ...rects]) expect(seen).toBeGreaterThanOrEqual(pixels(r));
      }),
      { numRuns: 300 },
    );
  });

  it('(f) JPEGs concatenated after EOI: the image with the most pixels is reported', () => {
    const image = fc.record({ width: fc.integer({ min: 1, max: 200 }), height: fc.integer({ min: 1, max: 200 }) });
    fc.assert(
      fc.property(fc.array(image, { minLength: 1, maxLength: 3 }), cuts, (images, c) => {
        const largest = images.reduce((a, b) => (pixels(b) > pixels(a) ? b : a));
        const bytes = Buffer.concat(images.map((i) => jpeg(i.width, i.height)));
        expect(outcome(bytes, c)).toEqual({ ok: true, info: expected('jpeg', largest.width, largest.height) });
      }),
      { numRuns: 150 },
    );
  });

  /** Files whose headers contradict each other: every one is refused as malformed. */
  const contradicting: fc.Arbitrary<Buffer> = fc.oneof(
    // JPEG: a second frame header of any type and size, before or after the first scan.
    fc
      .record({ sof: fc.constantFrom(...SINGLE_FRAME_SOF), second: fc.constantFrom(...ALL_SOF), w: u16, h: u16, afterScan: fc.boolean() })
      .map(({ sof, second, w, h, afterScan }) => {
        const frame = jpegFrameHeader(w, h, second);
        return jpeg(16, 16, afterScan ? { sof, afterScan: [frame] } : { sof, afterFrame: [frame] });
      }),
    // JPEG: a DNL of any height; a hierarchical file (DHP, or a differential frame).
    u16.map((h) => jpeg(16, 16, { afterScan: [jpegSegment(DNL, Buffer.from([h >> 8, h & 0xff]))] })),
    fc.record({ w: u16, h: u16 }).map(({ w, h }) => jpeg(16, 16, { beforeFrame: [jpegFrameHeader(w, h, DHP)] })),
    fc.constantFrom(...DIFFERENTIAL_SOF).map((sof) => jpeg(16, 16, { sof })),
    // APNG: a frame that does not fit IHDR (x or y beyond it, or too wide or tall from where it starts).
    fc
      .record({ w: side, h: side, x: fc.nat(64), y: fc.nat(64), fw: fc.integer({ min: 1, max: 64 }), fh: fc.integer({ min: 1, max: 64 }), asDefault: fc.boolean() })
      .filter(({ w, h, x, y, fw, fh }) => x + fw > w || y + fh > h)
      .map(({ w, h, x, y, fw, fh, asDefault }) => {
        const frame = { x, y, width: fw, height: fh };
        return asDefault ? apng(w, h, [], { defaultFrame: frame }) : apng(w, h, [frame]);
      }),
    // PNG: a second IHDR anywhere after the first.
    fc.record({ w: side, h: side, afterIdat: fc.boolean() }).map(({ w, h, afterIdat }) => {
      const image = png(w, h);
      const at = afterIdat ? image.length - 12 : 33;
      return Buffer.concat([image.subarray(0, at), image.subarray(8, 33), image.subarray(at)]);
    }),
    // BMP: compression, depth, orientation or planes that contradict each other, in any Windows header.
    fc
      .record({ w: side, h: side, header: fc.constantFrom<BmpHeader>('info', 'v4', 'v5'), c: fc.constantFrom(...BMP_CONTRADICTIONS) })
      .map(({ w, h, header, c }) => bmpImage(w, h, { ...c[1], header })),
    fc.record({ w: side, h: side, c: fc.constantFrom(...BMP_OTHER_CONTRADICTIONS) }).map(({ w, h, c }) => bmpImage(w, h, c[1])),
  );

  it('(g) files whose headers contradict each other are refused as malformed, in any chunking', () => {
    fc.assert(
      fc.property(contradicting, cuts, (bytes, c) => {
        expect(outcome(bytes, c)).toEqual({ ok: false, reason: 'malformed' });
      }),
      { numRuns: 400 },
    );
  });

  it('(h) any edit of a multi-header file yields only ImageInfo or ImageProbeError, with bounded buffering', () => {
    const edited = fc
      .tuple(
        fc.oneof(
          agreeing.map((a) => a.bytes),
          contradicting,
        ),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
      )
      .map(([bytes, edits, cutAt]) => {
        const copy = Buffer.from(bytes);
        for (const [at, value] of edits) copy[at % copy.length] = value;
        return copy.subarray(0, copy.length - (cutAt % 3)); // sometimes a byte or two short as well
      });
    fc.assert(
      fc.property(edited, cuts, (bytes, c) => {
        // outcome() rethrows anything but an ImageProbeError and checks bufferedBytes after every chunk.
        outcome(bytes, c);
      }),
      { numRuns: 1500 },
    );
  });
});
