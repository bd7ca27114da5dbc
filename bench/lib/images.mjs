/**
 * Valid images for the bench, ported from test/helpers/images.ts (png + pad) so the bench needs no TypeScript
 * loader: a black RGB PNG (constant pixels, so it deflates to almost nothing), then zero bytes after IEND up to the
 * wanted size. Decoders stop at IEND; crm-media's probe accepts trailing bytes, as it does for the tests' pad().
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type, data = Buffer.alloc(0)) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A complete black RGB PNG of width x height. */
export function png(width, height) {
  if (width * height > 10_000_000) throw new RangeError('keep bench images under 10 MP');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc(height * (1 + width * 3));
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND')]);
}

/** Zero bytes after the image so the file is exactly `size` bytes. */
export function pad(buf, size) {
  if (size < buf.length) throw new RangeError(`pad: image is already ${buf.length} bytes`);
  return Buffer.concat([buf, Buffer.alloc(size - buf.length)]);
}

/**
 * `count` distinct photos of exactly `size` bytes: different dimensions, so each variant's bytes (and hash)
 * differ; verification can then tell which upload a store kept.
 */
export function photoVariants(size, count = 3, base = 640) {
  return Array.from({ length: count }, (_, i) => pad(png(base + i, Math.round(base * 0.75)), size));
}

/** `count` distinct pseudo-random attachment bodies of `size` bytes (cheap xorshift fill, not crypto). */
export function binaryVariants(size, count = 3) {
  return Array.from({ length: count }, (_, v) => {
    const buf = Buffer.alloc(size);
    let x = (0x9e3779b9 ^ (v + 1) * 0x85ebca6b) >>> 0;
    for (let i = 0; i + 4 <= size; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    return buf;
  });
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
