/** The bodies every system sends: variants of each size, raw and as a multipart `file` part, written to files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryVariants, photoVariants, sha256 } from './images.mjs';
import { filePart, newBoundary } from './multipart.mjs';

const MiB = 1024 * 1024;

export function makeSet(tmp, name, raws, filename, contentType) {
  const dir = join(tmp, 'bodies');
  mkdirSync(dir, { recursive: true });
  const boundary = newBoundary();
  const set = { raw: raws, hashes: raws.map(sha256), rawFiles: [], mpFiles: [], contentType, mpContentType: '' };
  raws.forEach((raw, i) => {
    const mp = filePart(raw, filename, contentType, boundary);
    set.mpContentType = mp.contentType;
    const rf = join(dir, `${name}-${i}.raw`);
    const mf = join(dir, `${name}-${i}.multipart`);
    writeFileSync(rf, raw);
    writeFileSync(mf, mp.body);
    set.rawFiles.push(rf);
    set.mpFiles.push(mf);
  });
  return set;
}

/** p1m: 1 MiB photos, p20k: 20 KiB photos, a8m: 8 MiB attachments (three variants each). */
export function standardSets(tmp) {
  return {
    p1m: makeSet(tmp, 'p1m', photoVariants(MiB, 3, 640), 'photo.png', 'image/png'),
    p20k: makeSet(tmp, 'p20k', photoVariants(20 * 1024, 3, 64), 'photo.png', 'image/png'),
    a8m: makeSet(tmp, 'a8m', binaryVariants(8 * MiB, 3), 'attachment.bin', 'application/octet-stream'),
  };
}

/** p10m: 10 MB (10,000,000-byte) photos for the memory-bound cell. */
export const tenMegabytePhotos = (tmp) => makeSet(tmp, 'p10m', photoVariants(10_000_000, 2, 1000), 'photo.png', 'image/png');
