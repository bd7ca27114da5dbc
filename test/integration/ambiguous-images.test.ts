/**
 * Photos whose headers disagree (docs/compatibility.md "Images whose headers disagree") over real HTTP: the
 * 10-megapixel rule counts the largest size any of the headers lets a decoder allocate, headers that contradict
 * each other are an invalid image, and either way the record's existing photo and the stored blobs stay as they
 * were. Files whose extra headers agree (frames inside the canvas, a thumbnail inside an APP segment) are accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apng, bmp, bmpImage, gif, gifFrames, jpeg, jpegFrameHeader, jpegSegment, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { expectBlobs, expectNoTempFiles } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const UPLOADED = { code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' };
const INVALID_IMAGE = { status: 400, code: 'INVALID_DATA', message: 'The image format is invalid.', details: {} };
const TOO_LARGE = {
  status: 415,
  code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
  message: 'please check if the file size is in the correct range',
  details: {},
};

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server?.stop());

function photoPath(record: string): string {
  return `/crm/v8/Leads/${record}/photo`;
}

function upload(record: string, data: Buffer, filename: string): Promise<HttpResponse> {
  const part = filePart(data, filename, 'application/octet-stream');
  return server.api('POST', photoPath(record), { headers: { 'content-type': part.contentType }, body: part.body });
}

async function expectPhoto(record: string, bytes: Buffer, type: string): Promise<void> {
  const res = await server.api('GET', photoPath(record));
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.body.equals(bytes)).toBe(true);
}

const DNL = 0xdc;
const DHP = 0xde;
const jpegWithSecondImage = Buffer.concat([jpeg(100, 100), jpeg(4000, 3000)]);
const secondIhdrAfterIdat = (() => {
  const image = png(20, 10);
  const iend = image.length - 12;
  return Buffer.concat([image.subarray(0, iend), png(4000, 3000).subarray(8, 33), image.subarray(iend)]);
})();
const wideBmp = (() => {
  const b = bmp(4, 4);
  b.writeInt32LE(0x7fffffff, 18);
  return b;
})();
const tallBmpInTinyFile = (() => {
  const b = bmp(4, 4); // 3000x3000 (9 MP, under the limit) announced, 102 bytes sent
  b.writeInt32LE(3000, 18);
  b.writeInt32LE(3000, 22);
  return b;
})();

const hostile: Array<{ name: string; data: Buffer; refusal: typeof TOO_LARGE | typeof INVALID_IMAGE }> = [
  // Counted: the largest size any header allows.
  { name: 'GIF: 100x100 screen, a 10x10 frame at 3990,2990 (canvas 4000x3000)', data: gifFrames(100, 100, [{ x: 3990, y: 2990, width: 10, height: 10 }]), refusal: TOO_LARGE },
  { name: 'GIF: 65535x65535 screen, one 1x1 frame', data: gifFrames(0xffff, 0xffff, [{ x: 0, y: 0, width: 1, height: 1 }]), refusal: TOO_LARGE },
  {
    name: 'GIF: 10x10 screen, a plain-text grid 60000x200',
    data: gifFrames(10, 10, [{ x: 0, y: 0, width: 10, height: 10 }], { plainText: { x: 0, y: 0, width: 60_000, height: 200 } }),
    refusal: TOO_LARGE,
  },
  { name: 'JPEG: 100x100, then a 4000x3000 JPEG after its EOI', data: jpegWithSecondImage, refusal: TOO_LARGE },
  { name: 'BMP: 2147483647x4 announced in 102 bytes', data: wideBmp, refusal: TOO_LARGE },
  // Refused: the headers contradict each other.
  { name: 'JPEG: SOF0 40x30, then a second SOF0 4000x3000', data: jpeg(40, 30, { afterFrame: [jpegFrameHeader(4000, 3000)] }), refusal: INVALID_IMAGE },
  { name: 'JPEG: a progressive SOF2 4000x3000 after the first scan', data: jpeg(40, 30, { afterScan: [jpegFrameHeader(4000, 3000, 0xc2)] }), refusal: INVALID_IMAGE },
  { name: 'JPEG: a DNL giving height 3000', data: jpeg(40, 30, { afterScan: [jpegSegment(DNL, Buffer.from([0x0b, 0xb8]))] }), refusal: INVALID_IMAGE },
  { name: 'JPEG: hierarchical (DHP 4000x3000)', data: jpeg(40, 30, { beforeFrame: [jpegFrameHeader(4000, 3000, DHP)] }), refusal: INVALID_IMAGE },
  { name: 'APNG: 20x10 with a 4000x3000 frame', data: apng(20, 10, [{ x: 0, y: 0, width: 4000, height: 3000 }]), refusal: INVALID_IMAGE },
  { name: 'APNG: 20x10 with a 1x1 frame at 0,4000', data: apng(20, 10, [{ x: 0, y: 4000, width: 1, height: 1 }]), refusal: INVALID_IMAGE },
  { name: 'PNG: a second IHDR (4000x3000) after IDAT', data: secondIhdrAfterIdat, refusal: INVALID_IMAGE },
  { name: 'BMP: top-down RLE8', data: bmpImage(40, 30, { bitCount: 8, compression: 1, topDown: true }), refusal: INVALID_IMAGE },
  { name: 'BMP: RLE8 with 24 bits per pixel', data: bmpImage(40, 30, { bitCount: 24, compression: 1 }), refusal: INVALID_IMAGE },
  { name: 'BMP: an embedded PNG (BI_PNG)', data: bmpImage(40, 30, { header: 'v5', compression: 5 }), refusal: INVALID_IMAGE },
  { name: 'BMP: 3000x3000 raw pixels announced in 102 bytes', data: tallBmpInTinyFile, refusal: INVALID_IMAGE },
];

describe(`images whose headers disagree are refused, the photo unchanged (${BACKEND})`, () => {
  const original = gif(25, 25);
  let record: string;

  beforeAll(async () => {
    record = await server.createRecord('Leads');
    const res = await upload(record, original, 'original.gif');
    expect({ status: res.status, body: res.json }, res.text).toEqual({ status: 200, body: UPLOADED });
  });

  it.each(hostile)('$name', async (c) => {
    const before = await server.blobFiles();
    expectZohoError(await upload(record, c.data, 'hostile.img'), c.refusal);
    await expectPhoto(record, original, 'image/gif');
    await expectBlobs(server, before);
    await expectNoTempFiles(server);
  });
});

describe(`images whose extra headers agree are accepted (${BACKEND})`, () => {
  it.each([
    { name: 'JPEG 40x30 carrying a 65535x65535 thumbnail inside APP0', data: jpeg(40, 30, { thumbnail: Buffer.concat([Buffer.from([0xff, 0xd8]), jpegFrameHeader(0xffff, 0xffff)]) }), type: 'image/jpeg' },
    { name: 'JPEG 400x300 followed by a 200x150 JPEG (a gain map)', data: Buffer.concat([jpeg(400, 300), jpeg(200, 150)]), type: 'image/jpeg' },
    { name: 'GIF 40x30 with frames inside the screen', data: gifFrames(40, 30, [{ x: 0, y: 0, width: 40, height: 30 }, { x: 10, y: 5, width: 30, height: 25 }]), type: 'image/gif' },
    { name: 'APNG 40x30 with a frame inside IHDR', data: apng(40, 30, [{ x: 10, y: 10, width: 30, height: 20 }]), type: 'image/png' },
    { name: 'BMP V5 header, top-down, 32-bit bit fields', data: bmpImage(40, 30, { header: 'v5', bitCount: 32, compression: 3, topDown: true }), type: 'image/bmp' },
  ])('$name', async (c) => {
    const record = await server.createRecord('Leads');
    const res = await upload(record, c.data, 'fine.img');
    expect({ status: res.status, body: res.json }, res.text).toEqual({ status: 200, body: UPLOADED });
    await expectPhoto(record, c.data, c.type);
  });
});
