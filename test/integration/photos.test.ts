/**
 * Record photos over real HTTP (docs/compatibility.md "Photo uploads", "Downloads", "Methods"): round trips per
 * format, filenames, replacement, rejections that change nothing, size and resolution limits (streamed too),
 * concurrency and client aborts.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bmp, gif, jpeg, pad, png, pngHeaderOnly } from '../helpers/images.js';
import { type MultipartBody, filePart, multipart, streamedFilePart } from '../helpers/multipart.js';
import { type HttpResponse, TestServer } from '../helpers/server.js';
import { MiB, abortingFilePart, added, expectAnyZoho400, expectBlobs, expectNoTempFiles, garbage } from '../helpers/uploads.js';
import { expectZohoError } from '../helpers/zoho.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const UPLOADED = { code: 'SUCCESS', details: {}, message: 'photo uploaded successfully', status: 'success' };
const DELETED = { code: 'SUCCESS', details: {}, message: 'Photo deleted', status: 'success' };
const INVALID_IMAGE = { status: 400, code: 'INVALID_DATA', message: 'The image format is invalid.', details: {} };
const NO_FILE = { status: 400, code: 'INVALID_DATA', message: 'The request does not contain any file', details: { param_name: 'file' } };
const TWO_FILES = { status: 400, code: 'INVALID_DATA', message: 'The request contains more than one file', details: {} };
const NOT_MULTIPART = {
  status: 400,
  code: 'INVALID_REQUEST',
  message: 'invalid request',
  details: { expected_type: 'Multipart Form Request' },
};
const TOO_LARGE = {
  status: 415,
  code: 'FILE_SIZE_MORE_THAN_ALLOWED_SIZE',
  message: 'please check if the file size is in the correct range',
  details: {},
};
const BAD_METHOD = { status: 400, code: 'INVALID_REQUEST_METHOD', message: 'The http request method type is not a valid one' };

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(() => server?.stop());

type Body = { contentType?: string; body: MultipartBody['body'] | string | AsyncIterable<Buffer> | null };

function photoPath(record: string, module = 'Leads', version = 'v8'): string {
  return `/crm/${version}/${module}/${record}/photo`;
}

function upload(record: string, b: Body, opts: { path?: string; query?: Record<string, string>; srv?: TestServer } = {}): Promise<HttpResponse> {
  const srv = opts.srv ?? server;
  return srv.api('POST', opts.path ?? photoPath(record), {
    headers: b.contentType ? { 'content-type': b.contentType } : {},
    body: b.body,
    ...(opts.query ? { query: opts.query } : {}),
  });
}

function download(record: string, path = photoPath(record), srv = server): Promise<HttpResponse> {
  return srv.api('GET', path);
}

function expectUploaded(res: HttpResponse): void {
  expect({ status: res.status, body: res.json }, res.text).toEqual({ status: 200, body: UPLOADED });
  expect(res.headers['content-type']).toBe('application/json;charset=UTF-8');
}

function expectPhoto(res: HttpResponse, bytes: Buffer, type: string, disposition: string): void {
  expect(res.status, res.text.slice(0, 300)).toBe(200);
  expect(res.headers['content-type']).toBe(type);
  expect(res.headers['content-length']).toBe(String(bytes.length));
  expect(res.headers['content-disposition']).toBe(disposition);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.body.length).toBe(bytes.length);
  expect(res.body.equals(bytes)).toBe(true);
}

function expectNoPhoto(res: HttpResponse): void {
  expect(res.status, res.text).toBe(204);
  expect(res.body.length).toBe(0);
  expect(res.headers['content-type']).toBeUndefined();
}

const newLead = () => server.createRecord('Leads');

describe(`photo round trip per format (${BACKEND})`, () => {
  const cases = [
    { name: 'png', image: png(40, 30), filename: 'a.png', declared: 'image/png', sniffed: 'image/png' },
    { name: 'jpeg', image: jpeg(40, 30), filename: 'a.jpg', declared: 'image/jpeg', sniffed: 'image/jpeg' },
    { name: 'gif', image: gif(40, 30), filename: 'a.gif', declared: 'image/gif', sniffed: 'image/gif' },
    { name: 'bmp', image: bmp(40, 30), filename: 'a.bmp', declared: 'image/bmp', sniffed: 'image/bmp' },
    { name: 'jpeg sent as x.png / image/png', image: jpeg(33, 17), filename: 'x.png', declared: 'image/png', sniffed: 'image/jpeg' },
    { name: 'png sent as pic.gif / image/gif', image: png(9, 9), filename: 'pic.gif', declared: 'image/gif', sniffed: 'image/png' },
    { name: 'gif sent as octet-stream', image: gif(5, 7), filename: 'g.bin', declared: 'application/octet-stream', sniffed: 'image/gif' },
    { name: 'bmp sent as text/plain', image: bmp(3, 3), filename: 'b.txt', declared: 'text/plain', sniffed: 'image/bmp' },
  ];

  it.each(cases)('$name: upload 200, download exact bytes as $sniffed, delete, 204, second delete refused', async (c) => {
    const record = await newLead();
    const blobsBefore = await server.blobFiles();

    expectUploaded(await upload(record, filePart(c.image, c.filename, c.declared)));
    const blobsAfter = await server.blobFiles();
    expect(added(blobsBefore, blobsAfter)).toHaveLength(1);
    expect(blobsAfter).toHaveLength(blobsBefore.length + 1);

    expectPhoto(await download(record), c.image, c.sniffed, `attachment; filename="${c.filename}"`);

    const del = await server.api('DELETE', photoPath(record));
    expect({ status: del.status, body: del.json }, del.text).toEqual({ status: 200, body: DELETED });
    expect(del.headers['content-type']).toBe('application/json;charset=UTF-8');
    await expectBlobs(server, blobsBefore);

    expectNoPhoto(await download(record));

    const again = await server.api('DELETE', photoPath(record));
    expectZohoError(again, { status: 400, code: 'INVALID_DATA', message: 'No such photo exists', details: {} });
    await expectNoTempFiles(server);
  });
});

describe(`downloaded filename (${BACKEND})`, () => {
  it.each([
    { name: 'png', image: png(8, 8), expected: 'photo.png', type: 'image/png' },
    { name: 'jpeg', image: jpeg(8, 8), expected: 'photo.jpg', type: 'image/jpeg' },
    { name: 'gif', image: gif(8, 8), expected: 'photo.gif', type: 'image/gif' },
    { name: 'bmp', image: bmp(8, 8), expected: 'photo.bmp', type: 'image/bmp' },
  ])('part without filename (SDK buffer upload), $name → $expected', async (c) => {
    const record = await newLead();
    // What the SDK's form-data sends for an in-memory buffer: no filename, application/octet-stream.
    const body = multipart([{ name: 'file', contentType: 'application/octet-stream', data: c.image }]);
    expectUploaded(await upload(record, body));
    expectPhoto(await download(record), c.image, c.type, `attachment; filename="${c.expected}"`);
  });

  const cyrillic = 'фото.png';
  const cyrillicHeader = `attachment; filename="____.png"; filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE.png`;

  it('non-ASCII filename sent as raw UTF-8 (browsers, curl, form-data) → ASCII fallback plus filename*', async () => {
    const record = await newLead();
    const image = png(12, 12);
    expectUploaded(await upload(record, filePart(image, cyrillic, 'image/png')));
    expectPhoto(await download(record), image, 'image/png', cyrillicHeader);
  });

  it("non-ASCII filename sent as RFC 5987 filename*=UTF-8''… → same header", async () => {
    const record = await newLead();
    const image = png(12, 13);
    const boundary = `----rfc5987${randomBytes(6).toString('hex')}`;
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${encodeURIComponent(cyrillic)}\r\n` +
          `Content-Type: image/png\r\n\r\n`,
      ),
      image,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    expectUploaded(await upload(record, { contentType: `multipart/form-data; boundary=${boundary}`, body }));
    expectPhoto(await download(record), image, 'image/png', cyrillicHeader);
  });

  it.each([
    { sent: '../../etc/x.png', expected: 'x.png' },
    { sent: '/var/tmp/deep/y.png', expected: 'y.png' },
    { sent: 'C:\\Users\\me\\z.png', expected: 'z.png' },
  ])('filename with a path ($sent) → basename $expected', async (c) => {
    const record = await newLead();
    const image = png(7, 7);
    expectUploaded(await upload(record, filePart(image, c.sent, 'image/png')));
    expectPhoto(await download(record), image, 'image/png', `attachment; filename="${c.expected}"`);
  });
});

describe(`replacement, module case, HEAD, restrict_triggers (${BACKEND})`, () => {
  it('upload A then B: GET returns B, the old bytes are removed (one blob for the record)', async () => {
    const record = await newLead();
    const base = await server.blobFiles();
    const a = png(20, 10);
    const b = jpeg(30, 15);
    expectUploaded(await upload(record, filePart(a, 'a.png', 'image/png')));
    const afterA = await server.blobFiles();
    const keyA = added(base, afterA);
    expect(keyA).toHaveLength(1);

    expectUploaded(await upload(record, filePart(b, 'b.jpg', 'image/jpeg')));
    expectPhoto(await download(record), b, 'image/jpeg', 'attachment; filename="b.jpg"');
    const afterB = await server.blobFiles();
    const keyB = added(base, afterB);
    expect(keyB).toHaveLength(1);
    expect(keyB[0]).not.toBe(keyA[0]);
    expect(afterB).toHaveLength(base.length + 1);
    await expectNoTempFiles(server);
  });

  it('module name and photo segment in any case: /crm/v8/leads/…, /crm/v2/LEADS/…/PHOTO, trailing slash', async () => {
    const record = await newLead();
    const image = gif(21, 12);
    expectUploaded(await upload(record, filePart(image, 'lower.gif', 'image/gif'), { path: `/crm/v8/leads/${record}/photo` }));
    expectPhoto(await download(record, `/crm/v2/LEADS/${record}/PHOTO`), image, 'image/gif', 'attachment; filename="lower.gif"');
    expectPhoto(await download(record, `/crm/v8/Leads/${record}/photo/`), image, 'image/gif', 'attachment; filename="lower.gif"');
    const del = await server.api('DELETE', `/crm/v8/lEaDs/${record}/Photo`);
    expect({ status: del.status, body: del.json }).toEqual({ status: 200, body: DELETED });
    expectNoPhoto(await download(record));
  });

  it('HEAD on a photo: 200 with the download headers and no body; HEAD without photo: 204', async () => {
    const record = await newLead();
    expectNoPhoto(await server.api('HEAD', photoPath(record)));
    const image = bmp(10, 4);
    expectUploaded(await upload(record, filePart(image, 'h.bmp', 'image/bmp')));
    const res = await server.api('HEAD', photoPath(record));
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-type']).toBe('image/bmp');
    expect(res.headers['content-length']).toBe(String(image.length));
    expect(res.headers['content-disposition']).toBe('attachment; filename="h.bmp"');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // The server still serves the bytes afterwards (the HEAD did not leave the blob half-open).
    expectPhoto(await download(record), image, 'image/bmp', 'attachment; filename="h.bmp"');
  });

  it.each(['workflow', 'WORKFLOW', 'Workflow'])('restrict_triggers=%s is accepted', async (value) => {
    const record = await newLead();
    const image = png(6, 6);
    expectUploaded(await upload(record, filePart(image, 'r.png', 'image/png'), { query: { restrict_triggers: value } }));
    expectPhoto(await download(record), image, 'image/png', 'attachment; filename="r.png"');
  });

  it.each(['blueprint', 'approval', '', 'workflow,blueprint'])('restrict_triggers=%j → INVALID_DATA, nothing stored', async (value) => {
    const record = await newLead();
    const before = await server.blobFiles();
    const res = await upload(record, filePart(png(6, 6), 'r.png', 'image/png'), { query: { restrict_triggers: value } });
    expectZohoError(res, {
      status: 400,
      code: 'INVALID_DATA',
      message: 'invalid data',
      details: { param_name: 'restrict_triggers', expected_value: 'workflow' },
    });
    expectNoPhoto(await download(record));
    await expectBlobs(server, before);
    await expectNoTempFiles(server);
  });
});

describe(`rejected uploads change nothing (${BACKEND})`, () => {
  const original = png(25, 25);
  const originalHeader = 'attachment; filename="original.png"';
  let record: string;

  beforeAll(async () => {
    record = await server.createRecord('Leads');
    expectUploaded(await upload(record, filePart(original, 'original.png', 'image/png')));
  });

  async function expectUnchanged(before: string[]): Promise<void> {
    expectPhoto(await download(record), original, 'image/png', originalHeader);
    await expectBlobs(server, before);
    await expectNoTempFiles(server);
  }

  const fullPng = png(40, 30);
  const fullJpeg = jpeg(64, 48);
  const fullGif = gif(40, 30);
  const fullBmp = bmp(40, 30);
  const invalidImages: Array<{ name: string; data: Buffer; filename: string; type: string }> = [
    {
      name: 'SVG text',
      data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'),
      filename: 'img.svg',
      type: 'image/svg+xml',
    },
    {
      name: 'HTML bytes named img.png with image/png',
      data: Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>'),
      filename: 'img.png',
      type: 'image/png',
    },
    { name: 'PNG signature only', data: fullPng.subarray(0, 8), filename: 'sig.png', type: 'image/png' },
    { name: 'pngHeaderOnly(40, 30) (truncated)', data: pngHeaderOnly(40, 30), filename: 'head.png', type: 'image/png' },
    { name: 'PNG without IEND', data: fullPng.subarray(0, fullPng.length - 12), filename: 'noend.png', type: 'image/png' },
    { name: 'JPEG cut in half', data: fullJpeg.subarray(0, Math.floor(fullJpeg.length / 2)), filename: 'half.jpg', type: 'image/jpeg' },
    { name: 'JPEG without EOI', data: fullJpeg.subarray(0, fullJpeg.length - 2), filename: 'noeoi.jpg', type: 'image/jpeg' },
    { name: 'GIF without trailer', data: fullGif.subarray(0, fullGif.length - 1), filename: 'cut.gif', type: 'image/gif' },
    { name: 'BMP cut in half', data: fullBmp.subarray(0, Math.floor(fullBmp.length / 2)), filename: 'cut.bmp', type: 'image/bmp' },
    { name: 'random garbage', data: garbage(4096), filename: 'noise.png', type: 'image/png' },
    { name: 'empty file', data: Buffer.alloc(0), filename: 'empty.png', type: 'image/png' },
  ];

  it.each(invalidImages)('$name → INVALID_DATA "The image format is invalid."', async (c) => {
    const before = await server.blobFiles();
    expectZohoError(await upload(record, filePart(c.data, c.filename, c.type)), INVALID_IMAGE);
    await expectUnchanged(before);
  });

  const image = png(10, 10);
  const otherRequests: Array<{ name: string; body: () => Body; expected: Parameters<typeof expectZohoError>[1] }> = [
    { name: 'no file part (only a text field)', body: () => multipart([{ name: 'title', data: 'hello' }]), expected: NO_FILE },
    {
      name: 'a text field named file (no filename, text/plain)',
      body: () => multipart([{ name: 'file', data: 'not a file' }]),
      expected: NO_FILE,
    },
    {
      name: 'file part named photo',
      body: () => multipart([{ name: 'photo', filename: 'a.png', contentType: 'image/png', data: image }]),
      expected: NO_FILE,
    },
    {
      name: 'empty multipart (closing boundary only)',
      body: () => multipart([]),
      expected: NO_FILE,
    },
    {
      name: 'two file parts',
      body: () =>
        multipart([
          { name: 'file', filename: 'a.png', contentType: 'image/png', data: image },
          { name: 'file', filename: 'b.png', contentType: 'image/png', data: png(11, 11) },
        ]),
      expected: TWO_FILES,
    },
    {
      name: 'file part then a second file part with another name',
      body: () =>
        multipart([
          { name: 'file', filename: 'a.png', contentType: 'image/png', data: image },
          { name: 'other', filename: 'b.png', contentType: 'image/png', data: png(11, 11) },
        ]),
      expected: TWO_FILES,
    },
    { name: 'JSON body', body: () => ({ contentType: 'application/json', body: '{"file":"x"}' }), expected: NOT_MULTIPART },
    {
      name: 'urlencoded body',
      body: () => ({ contentType: 'application/x-www-form-urlencoded', body: 'file=abc' }),
      expected: NOT_MULTIPART,
    },
    { name: 'raw image/png body', body: () => ({ contentType: 'image/png', body: image }), expected: NOT_MULTIPART },
    { name: 'no body, no content type', body: () => ({ body: null }), expected: NOT_MULTIPART },
  ];

  it.each(otherRequests)('$name → $expected.code', async (c) => {
    const before = await server.blobFiles();
    expectZohoError(await upload(record, c.body()), c.expected);
    await expectUnchanged(before);
  });

  const brokenFraming: Array<{ name: string; body: () => Body }> = [
    {
      name: 'multipart content type without boundary',
      body: () => ({ contentType: 'multipart/form-data', body: filePart(image, 'a.png', 'image/png').body }),
    },
    {
      name: 'boundary in the header differs from the body',
      body: () => ({ contentType: 'multipart/form-data; boundary=somethingelse', body: filePart(image, 'a.png', 'image/png').body }),
    },
    {
      name: 'closing boundary missing (truncated framing) after a whole image',
      body: () => {
        const m = filePart(image, 'a.png', 'image/png');
        return { contentType: m.contentType, body: m.body.subarray(0, m.body.length - 30) };
      },
    },
    {
      name: 'body cut inside the file part',
      body: () => {
        const m = filePart(png(30, 30), 'a.png', 'image/png');
        return { contentType: m.contentType, body: m.body.subarray(0, 150) };
      },
    },
    {
      name: 'part headers never terminated',
      body: () => ({
        contentType: 'multipart/form-data; boundary=xyz',
        body: `--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n`,
      }),
    },
  ];

  it.each(brokenFraming)('broken multipart: $name → a Zoho 400 error', async (c) => {
    const before = await server.blobFiles();
    const res = await upload(record, c.body());
    await expectUnchanged(before);
    expectAnyZoho400(res);
  });

  it.each(['PUT', 'PATCH'])('%s on the photo URL → INVALID_REQUEST_METHOD', async (method) => {
    const before = await server.blobFiles();
    const m = filePart(png(13, 13), 'put.png', 'image/png');
    const res = await server.api(method, photoPath(record), { headers: { 'content-type': m.contentType }, body: m.body });
    expectZohoError(res, BAD_METHOD);
    await expectUnchanged(before);
  });

  it.each([
    { name: 'pngHeaderOnly(4000, 3000): 12 MP from the header alone', make: () => pngHeaderOnly(4000, 3000) },
    { name: 'png(3163, 3162): 10,001,406 pixels', make: () => png(3163, 3162) },
    { name: 'jpeg(3163, 3162)', make: () => jpeg(3163, 3162) },
    { name: 'gif(5000, 2001)', make: () => gif(5000, 2001) },
    { name: 'bmp(4000, 2501) (over both limits)', make: () => bmp(4000, 2501) },
    { name: '10 MiB + 1 byte (with Content-Length)', make: () => pad(png(10, 10), 10 * MiB + 1) },
  ])('$name → 415 FILE_SIZE_MORE_THAN_ALLOWED_SIZE', async (c) => {
    const before = await server.blobFiles();
    expectZohoError(await upload(record, filePart(c.make(), 'big.png', 'image/png')), TOO_LARGE);
    await expectUnchanged(before);
  });

  it('10 MiB + 1 byte streamed chunked without Content-Length → 415, nothing stored, server still serving', async () => {
    const before = await server.blobFiles();
    const s = streamedFilePart(png(10, 10), 10 * MiB + 1);
    const res = await upload(record, s);
    expectZohoError(res, TOO_LARGE);
    await expectUnchanged(before);
  });
});

describe(`limits that are accepted (${BACKEND})`, () => {
  it('png(3162, 3162) (9,998,244 pixels) → 200, byte-identical download', async () => {
    const record = await newLead();
    const image = png(3162, 3162);
    expectUploaded(await upload(record, filePart(image, 'under.png', 'image/png')));
    expectPhoto(await download(record), image, 'image/png', 'attachment; filename="under.png"');
  });

  it('png(4000, 2500): exactly 10,000,000 pixels → 200', async () => {
    const record = await newLead();
    const image = png(4000, 2500);
    expectUploaded(await upload(record, filePart(image, 'exact.png', 'image/png')));
    expectPhoto(await download(record), image, 'image/png', 'attachment; filename="exact.png"');
  });

  it('exactly 10 MiB (padded png) → 200, byte-identical download', async () => {
    const record = await newLead();
    const image = pad(png(10, 10), 10 * MiB);
    expectUploaded(await upload(record, filePart(image, 'ten.png', 'image/png')));
    expectPhoto(await download(record), image, 'image/png', 'attachment; filename="ten.png"');
  });

  it('exactly 10 MiB streamed chunked → 200, byte-identical download', async () => {
    const record = await newLead();
    const head = png(10, 10);
    expectUploaded(await upload(record, streamedFilePart(head, 10 * MiB, 64 * 1024, 'streamed.png')));
    expectPhoto(await download(record), pad(head, 10 * MiB), 'image/png', 'attachment; filename="streamed.png"');
  });
});

describe(`a server with photoMaxBytes = 1 MiB (${BACKEND})`, () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await TestServer.start({ photoMaxBytes: MiB });
  });
  afterAll(() => small?.stop());

  it('exactly 1 MiB → 200; 1 MiB + 1 → 415', async () => {
    const record = await small.createRecord('Leads');
    const fits = pad(png(10, 10), MiB);
    expectUploaded(await upload(record, filePart(fits, 'fits.png', 'image/png'), { srv: small }));
    const before = await small.blobFiles();
    expectZohoError(await upload(record, filePart(pad(png(10, 10), MiB + 1), 'over.png', 'image/png'), { srv: small }), TOO_LARGE);
    expectPhoto(await download(record, photoPath(record), small), fits, 'image/png', 'attachment; filename="fits.png"');
    await expectBlobs(small, before);
    await expectNoTempFiles(small);
  });

  it('50 MiB streamed chunked → 415; nothing kept in storage; the server still answers', async () => {
    const record = await small.createRecord('Leads');
    const before = await small.blobFiles();
    const res = await upload(record, streamedFilePart(png(10, 10), 50 * MiB), { srv: small });
    expectZohoError(res, TOO_LARGE);
    await expectBlobs(small, before);
    await expectNoTempFiles(small);
    expectNoPhoto(await download(record, photoPath(record), small));
  });
});

describe(`the size limit is enforced while reading (${BACKEND})`, () => {
  it('the 415 arrives while the client is still sending a 50 MiB body, long before its end', async () => {
    const srv = await TestServer.start({ photoMaxBytes: MiB });
    try {
      const record = await srv.createRecord('Leads');
      const { body, contentType } = streamedFilePart(png(10, 10), 50 * MiB);
      let sent = 0;
      let done = false;
      // Paced after the first 2 MiB, so that the answer has time to arrive before the body ends.
      async function* paced() {
        for await (const chunk of body) {
          sent += chunk.length;
          if (sent > 2 * MiB) await sleep(2);
          yield chunk;
        }
        done = true;
      }
      const res = await srv.api('POST', photoPath(record), { headers: { 'content-type': contentType }, body: paced() });
      const sentWhenAnswered = sent;
      expectZohoError(res, TOO_LARGE);
      expect(done).toBe(false);
      expect(sentWhenAnswered).toBeLessThan(10 * MiB);
    } finally {
      await srv.stop();
    }
  });
});

describe(`concurrency and aborts (${BACKEND})`, () => {
  it('8 concurrent uploads of different images to one record: all 200, one of them wins whole, one blob left', async () => {
    const record = await newLead();
    const base = await server.blobFiles();
    const makers = [png, jpeg, gif, bmp];
    const types = ['image/png', 'image/jpeg', 'image/gif', 'image/bmp'];
    const images = Array.from({ length: 8 }, (_, i) => ({
      bytes: makers[i % 4]!(11 + i, 9 + i),
      type: types[i % 4]!,
      filename: `c${i}.img`,
    }));
    const results = await Promise.all(images.map((img) => upload(record, filePart(img.bytes, img.filename, 'image/png'))));
    for (const r of results) expectUploaded(r);

    const res = await download(record);
    expect(res.status).toBe(200);
    const winner = images.find((img) => img.bytes.equals(res.body));
    expect(winner, 'downloaded bytes equal one of the uploads').toBeDefined();
    expectPhoto(res, winner!.bytes, winner!.type, `attachment; filename="${winner!.filename}"`);

    const after = await server.blobFiles();
    expect(added(base, after)).toHaveLength(1);
    expect(after).toHaveLength(base.length + 1);
    await expectNoTempFiles(server);
  });

  it('a client that goes away mid-upload leaves no blob and no temp file; the server still answers', async () => {
    const record = await newLead();
    const before = await server.blobFiles();
    const body = abortingFilePart(png(10, 10), MiB);
    await expect(upload(record, body)).rejects.toThrow();
    expect(body.sent()).toBeGreaterThanOrEqual(MiB);

    await expectNoTempFiles(server);
    await expectBlobs(server, before);
    expectNoPhoto(await download(record));
    // And a normal upload to the same record works.
    const image = png(14, 14);
    expectUploaded(await upload(record, filePart(image, 'after.png', 'image/png')));
    expectPhoto(await download(record), image, 'image/png', 'attachment; filename="after.png"');
  });

  it('concurrent downloads of different photos, half by clients that stall, each get their own bytes (read buffers are reused)', async () => {
    // Random bytes after IEND make every photo differ all through, so bytes from a reused buffer would show. Sizes
    // cover both ways a download reads: whole into one buffer (≤ 64 KiB) and streamed in chunks, larger than the
    // kernel's socket buffers so that stalled clients back writes up inside the server.
    const sizes = [20 * 1024, 64 * 1024, 6 * MiB + 123];
    const photos = await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const record = await newLead();
        const head = png(10 + i, 10 + i);
        const image = Buffer.concat([head, randomBytes(sizes[i % 3]! - head.length)]);
        expectUploaded(await upload(record, filePart(image, `p${i}.png`, 'image/png')));
        return { record, image };
      }),
    );
    for (let round = 0; round < 2; round++) {
      const bodies = await Promise.all(photos.map((p, i) => stalledGet(`${server.url}${photoPath(p.record)}`, i % 2 ? 150 : 0)));
      bodies.forEach((body, i) => expect(body.equals(photos[i]!.image), `photo ${i}, round ${round}`).toBe(true));
    }
  });

  it('pipelined GETs on one stalled connection: replies waiting their turn keep their bytes while other downloads run', async () => {
    // A 6 MiB photo first fills the kernel's socket buffers; the small photos behind it are read whole into reused
    // buffers, and their replies wait inside the server. Meanwhile other small photos are downloaded on another
    // connection: a buffer given back before its reply was sent would be refilled with one of those.
    const photoOf = async (size: number, i: number) => {
      const record = await newLead();
      const head = png(10 + i, 10 + i);
      const image = Buffer.concat([head, randomBytes(size - head.length)]);
      expectUploaded(await upload(record, filePart(image, `q${i}.png`, 'image/png')));
      return { record, image };
    };
    const queued = await Promise.all([6 * MiB, 30_000, 40_000, 60_000].map(photoOf));
    const others = await Promise.all([30_000, 40_000, 60_000, 50_000].map((size, i) => photoOf(size, 10 + i)));
    const pipelined = pipelinedGets(queued.map((p) => photoPath(p.record)), 500);
    await sleep(150);
    for (const p of others) expect((await download(p.record)).body.equals(p.image)).toBe(true);
    const bodies = await pipelined;
    expect(bodies).toHaveLength(queued.length);
    bodies.forEach((body, i) => expect(body.equals(queued[i]!.image), `photo ${i}`).toBe(true));
  });

  it('a client that goes away mid-upload does not disturb the existing photo', async () => {
    const record = await newLead();
    const image = jpeg(20, 20);
    expectUploaded(await upload(record, filePart(image, 'keep.jpg', 'image/jpeg')));
    const before = await server.blobFiles();
    await expect(upload(record, abortingFilePart(png(10, 10), 2 * MiB))).rejects.toThrow();
    await expectNoTempFiles(server);
    await expectBlobs(server, before);
    expectPhoto(await download(record), image, 'image/jpeg', 'attachment; filename="keep.jpg"');
  });
});

/** A GET that leaves the response unread for `stallMs` first (undici reads eagerly, so node:http it is). */
function stalledGet(url: string, stallMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { authorization: `Zoho-oauthtoken ${server.devToken}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.pause();
      setTimeout(() => res.resume(), stallMs);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 && res.complete ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Sends all GETs at once on one connection, reads nothing for `stallMs`, then splits the replies by Content-Length. */
function pipelinedGets(paths: string[], stallMs: number): Promise<Buffer[]> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.pause();
    socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Zoho-oauthtoken ${server.devToken}\r\n\r\n`).join(''));
    setTimeout(() => socket.resume(), stallMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const bodies = splitResponses(Buffer.concat(chunks));
      if (bodies.length === paths.length) {
        socket.destroy();
        resolve(bodies);
      }
    });
  });
}

function splitResponses(data: Buffer): Buffer[] {
  const bodies: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return bodies;
    const head = data.subarray(at, end).toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    if (data.length < end + 4 + length) return bodies;
    bodies.push(data.subarray(end + 4, end + 4 + length));
    at = end + 4 + length;
  }
}

describe(`ETag without content hashing (the default) (${process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk'})`, () => {
  it('is stable for one photo, changes when the photo is replaced, and answers If-None-Match with 304', async () => {
    const s = await TestServer.start();
    try {
      const id = await s.createRecord('Leads');
      const send = async (img: Buffer) => {
        const { body, contentType } = filePart(img, 'e.png', 'image/png');
        expect((await s.api('POST', `/crm/v8/Leads/${id}/photo`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
      };
      await send(png(8, 8));
      const first = await s.api('GET', `/crm/v8/Leads/${id}/photo`);
      const again = await s.api('GET', `/crm/v8/Leads/${id}/photo`);
      expect(first.headers['etag']).toMatch(/^"[0-9a-f]{32}"$/);
      expect(again.headers['etag']).toBe(first.headers['etag']);
      const cached = await s.api('GET', `/crm/v8/Leads/${id}/photo`, { headers: { 'if-none-match': first.headers['etag'] as string } });
      expect(cached.status).toBe(304);
      expect(cached.body.length).toBe(0);
      await send(png(9, 9));
      const replaced = await s.api('GET', `/crm/v8/Leads/${id}/photo`, { headers: { 'if-none-match': first.headers['etag'] as string } });
      expect(replaced.status).toBe(200);
      expect(replaced.headers['etag']).not.toBe(first.headers['etag']);
    } finally {
      await s.stop();
    }
  });
});
