/**
 * The form-data parser (server/form-data/) must behave exactly as busboy 1.6, the parser it replaces: the same
 * bodies, cut into the same chunks, must give the same events (parts, their bytes, limits, errors, the end) from
 * both, on generated forms and on mutated real bodies.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import busboy from 'busboy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pad, png } from '../helpers/images.js';
import { DelimiterScanner } from '../../src/server/form-data/delimiter.js';
import { FormDataParser } from '../../src/server/form-data/index.js';

const LIMITS = { fileSize: 3000, files: 2, fields: 3, parts: 5, fieldSize: 40 };

type Event = unknown[];

/** Feeds `chunks` to a parser and records every event it emits, in order, until it closes. */
async function run(parser: Writable, chunks: Buffer[], slowReader: boolean): Promise<Event[]> {
  const events: Event[] = [];
  const ended: Promise<void>[] = [];
  /** File bytes read so far: progress that makes no event. */
  let bytesRead = 0;
  parser.on('file', (name: string | undefined, stream: Readable, info: unknown) => {
    events.push(['file', name, info]);
    const hash = createHash('sha256');
    let size = 0;
    let limited = false;
    stream.on('limit', () => {
      limited = true;
    });
    let finished = false;
    ended.push(
      new Promise<void>((resolve) => {
        const done = (how: string) => {
          if (finished) return;
          finished = true;
          events.push(['file-end', name, how, size, hash.digest('hex'), limited, (stream as Readable & { truncated: boolean }).truncated]);
          resolve();
        };
        stream.on('end', () => done('end'));
        stream.on('error', (err) => done(`error: ${err.message}`));
        if (slowReader) {
          // Read a little at a time, so that the parser must wait for the reader (backpressure).
          const pump = () => {
            if (finished) return;
            let c: Buffer | null;
            while ((c = stream.read(7) as Buffer | null) !== null) {
              size += c.length;
              bytesRead += c.length;
              hash.update(c);
            }
          };
          stream.on('readable', () => setImmediate(pump));
        } else {
          stream.on('data', (c: Buffer) => {
            size += c.length;
            bytesRead += c.length;
            hash.update(c);
          });
        }
      }),
    );
  });
  parser.on('field', (name: string | undefined, value: string | undefined, info: unknown) => events.push(['field', name, value, info]));
  for (const e of ['filesLimit', 'fieldsLimit', 'partsLimit']) parser.on(e, () => events.push([e]));
  parser.on('error', (err: Error) => events.push(['error', err.message]));
  let closed = false;
  parser.once('close', () => {
    closed = true;
  });
  for (const chunk of chunks) {
    if (parser.destroyed) break;
    await new Promise<void>((resolve) => {
      parser.write(chunk, () => resolve());
    });
  }
  if (!parser.destroyed) parser.end();
  if (!(await settled(() => closed, () => events.length + bytesRead))) events.push(['timed out', 'close']);
  let filesEnded = false;
  void Promise.all(ended).then(() => {
    filesEnded = true;
  });
  if (!(await settled(() => filesEnded, () => events.length + bytesRead))) events.push(['timed out', 'file end']);
  events.push(['closed', parser.closed]);
  return events;
}

/**
 * Waits until `done()`, or until nothing has happened for many turns of the event loop (a parser that will never
 * finish): `progress()` changes whenever something happens. Counting turns rather than milliseconds keeps the
 * verdict the same on a loaded machine.
 */
async function settled(done: () => boolean, progress: () => number): Promise<boolean> {
  let last = progress();
  for (let idle = 0; idle < 500; idle++) {
    if (done()) return true;
    await new Promise((r) => setImmediate(r));
    if (progress() !== last) {
      last = progress();
      idle = 0;
    }
  }
  return done();
}

/**
 * Our events must be busboy's. One exception: busboy never finishes a form that ends inside a file (it waits for
 * that file to end); this parser fails such a form with an error, after the same parts.
 */
function expectBusboysEvents(ours: Event[], theirs: Event[]): void {
  expect(ours.filter((e) => e[0] === 'timed out')).toEqual([]);
  if (!theirs.some((e) => e[0] === 'timed out')) {
    expect(ours).toEqual(theirs);
    return;
  }
  const parts = (events: Event[]) => events.filter((e) => e[0] === 'file' || e[0] === 'field');
  expect(parts(ours)).toEqual(parts(theirs));
  expect(ours.some((e) => e[0] === 'error')).toBe(true);
}

const parserOptions = (contentType: string) => ({ contentType, limits: LIMITS, paramCharset: 'utf8' });
const busboyFor = (contentType: string) =>
  busboy({ headers: { 'content-type': contentType }, limits: LIMITS, preservePath: false, defParamCharset: 'utf8' });

/** Cuts `body` at the given points. */
function cut(body: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (body.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...at, body.length]) {
    if (p > prev) chunks.push(body.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  return chunks;
}

const BCHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
const boundaryArb = fc.string({ unit: fc.constantFrom(...BCHARS), minLength: 1, maxLength: 40 });

/** A part's header lines, from ordinary to odd. */
const headerArb = fc.oneof(
  fc.constant('Content-Disposition: form-data; name="file"; filename="photo.png"\r\nContent-Type: image/png'),
  fc.constant('content-disposition: form-data; name="file"; filename*=UTF-8\'\'%E2%82%AC%20rates.png'),
  fc.constant('Content-Disposition: form-data; name="file"; filename="C:\\\\Users\\\\me\\\\pic.JPG"\r\nContent-Type: IMAGE/JPEG; charset=UTF-8'),
  fc.constant('Content-Disposition: form-data; name="file"; filename="caf\xc3\xa9.gif"'),
  fc.constant('Content-Disposition: form-data; name="title"'),
  fc.constant('Content-Disposition: form-data; name="title"\r\nContent-Type: text/plain; charset=latin1'),
  fc.constant('Content-Disposition: form-data; name="blob"\r\nContent-Type: application/octet-stream'),
  fc.constant('Content-Disposition: form-data; filename="noname.bin"'),
  fc.constant('Content-Disposition: attachment; name="file"; filename="x.png"'),
  fc.constant('Content-Type: image/png'),
  fc.constant('Content-Disposition: form-data;\r\n name="folded"'),
  fc.constant('Content-Disposition form-data; name="nocolon"'),
  fc.constant('Content-Disposition: form-data; name="x"; filename="a.png"\r\nX-Pad: ' + 'p'.repeat(17 * 1024)),
  fc.constant('Content-Disposition: form-data; name=unquoted; filename=bare.txt\r\nContent-Transfer-Encoding: BINARY'),
  fc.constant('Content-Disposition: form-data; name="x"; filename="a.png"\r\nContent-Type: not a type'),
);

/** Body bytes, including bytes that look like the start of a delimiter. */
const bytesArb = (boundary: string) =>
  fc
    .array(
      fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a)),
        fc.constantFrom('\r', '\r\n', '\r\n-', '\r\n--', `\r\n--${boundary.slice(0, -1)}`, `--${boundary}`, '\n').map((s) => Buffer.from(s)),
      ),
      { maxLength: 8 },
    )
    .map((parts) => Buffer.concat(parts));

const formArb = boundaryArb.chain((boundary) =>
  fc.record({
    boundary: fc.constant(boundary),
    preamble: fc.oneof(fc.constant(''), fc.constant('preamble text\r\n'), fc.constant('\r\n')),
    parts: fc.array(fc.record({ header: headerArb, body: bytesArb(boundary), afterDelimiter: fc.constantFrom('\r\n', '\r\n', '\r\n', 'x\r\n', '-\r\n', '\r') }), {
      maxLength: 7,
    }),
    ending: fc.constantFrom(
      `\r\n--${boundary}--\r\n`,
      `\r\n--${boundary}--`,
      `\r\n--${boundary}--epilogue`,
      // An epilogue that holds a delimiter and a whole part.
      `\r\n--${boundary}--\r\n--${boundary}\r\nContent-Disposition: form-data; name="late"\r\n\r\nx\r\n--${boundary}--`,
      `\r\n--${boundary}-\r\n--${boundary}--`,
      `\r\n--${boundary}`,
      '',
      `\r\n--${boundary}-`,
    ),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
    slowReader: fc.boolean(),
  }),
);

function bodyOf(f: { boundary: string; preamble: string; parts: { header: string; body: Buffer; afterDelimiter: string }[]; ending: string }): Buffer {
  const pieces: Buffer[] = [Buffer.from(f.preamble, 'latin1')];
  f.parts.forEach((p, i) => {
    pieces.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${f.boundary}${p.afterDelimiter}${p.header}\r\n\r\n`, 'latin1'), p.body);
  });
  pieces.push(Buffer.from(f.ending, 'latin1'));
  return Buffer.concat(pieces);
}

describe('FormDataParser (busboy behaviour, native delimiter search)', () => {
  it('property: any form, cut anywhere, read fast or slowly, gives the same events as busboy', async () => {
    await fc.assert(
      fc.asyncProperty(formArb, async (f) => {
        const contentType = `multipart/form-data; boundary=${f.boundary}`;
        const body = bodyOf(f);
        const chunks = cut(body, f.cuts);
        const ours = await run(new FormDataParser(parserOptions(contentType)), chunks, f.slowReader);
        const theirs = await run(busboyFor(contentType), chunks, f.slowReader);
        expectBusboysEvents(ours, theirs);
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('parses an ordinary upload: a field and a 1 MiB file in 64 KiB chunks', async () => {
    const file = Buffer.alloc(1024 * 1024, 7);
    const body = Buffer.concat([
      Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday\r\n--XyZ\r\n'),
      Buffer.from('Content-Disposition: form-data; name="file"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n'),
      file,
      Buffer.from('\r\n--XyZ--\r\n'),
    ]);
    const chunks = cut(body, Array.from({ length: 20 }, (_, i) => i * 65536));
    const events = await run(new FormDataParser({ ...parserOptions('multipart/form-data; boundary=XyZ'), limits: { ...LIMITS, fileSize: 2e6 } }), chunks, false);
    expect(events).toEqual([
      ['field', 'title', 'Holiday', { nameTruncated: false, valueTruncated: false, encoding: '7bit', mimeType: 'text/plain' }],
      ['file', 'file', { filename: 'p.png', encoding: '7bit', mimeType: 'image/png' }],
      ['file-end', 'file', 'end', file.length, createHash('sha256').update(file).digest('hex'), false, false],
      ['closed', true],
    ]);
  });

  it('holds the body back while a file is not being read (bounded memory), and goes on once it is', async () => {
    const chunk = Buffer.alloc(16 * 1024, 1);
    const head = Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n\r\n');
    const parser = new FormDataParser({ ...parserOptions('multipart/form-data; boundary=b'), limits: { ...LIMITS, fileSize: 1e7 } });
    let file: Readable | undefined;
    parser.on('file', (_name: string, stream: Readable) => {
      file = stream;
    });
    let accepted = 0;
    parser.write(head, () => accepted++);
    for (let i = 0; i < 64; i++) parser.write(chunk, () => accepted++);
    parser.end(Buffer.from('\r\n--b--'));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // The unread stream holds at most its high-water mark and one chunk; the parser has stopped taking more.
    expect(file!.readableLength).toBeLessThanOrEqual(file!.readableHighWaterMark + chunk.length);
    expect(accepted).toBeLessThan(5);
    let size = 0;
    file!.on('data', (c: Buffer) => {
      size += c.length;
    });
    await new Promise((resolve) => parser.once('close', resolve));
    expect(size).toBe(64 * chunk.length);
    expect(accepted).toBe(65);
  });

  it('destroyed in the middle of a file without a reason: the same errors as busboy', async () => {
    const events = async (parser: Writable) => {
      const seen: string[] = [];
      parser.on('file', (_name: string, stream: Readable) => {
        stream.on('error', (err) => seen.push(`file error: ${err.message}`));
        stream.resume();
      });
      parser.on('error', (err: Error) => seen.push(`error: ${err.message}`));
      const closed = new Promise((resolve) => parser.once('close', resolve));
      await new Promise<void>((resolve) => parser.write(Buffer.from('--b\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc'), () => resolve()));
      parser.destroy();
      await closed;
      return seen;
    };
    const contentType = 'multipart/form-data; boundary=b';
    expect(await events(new FormDataParser(parserOptions(contentType)))).toEqual(await events(busboyFor(contentType)));
  });

  it('refuses what busboy refuses at construction', () => {
    for (const contentType of [undefined, '', 'multipart/form-data', 'text/plain; boundary=x', 'multipart/mixed; boundary=x', 'multipart/']) {
      expect(() => new FormDataParser({ contentType, limits: LIMITS, paramCharset: 'utf8' })).toThrow();
      expect(() => busboy({ headers: { 'content-type': contentType as string } })).toThrow();
    }
  });
});

describe('FormDataParser on mutated bodies (fuzz)', () => {
  type Form = { boundary: string; preamble: string; parts: { header: string; body: Buffer; afterDelimiter: string }[]; ending: string };

  /** What the SDKs send: a title and a photo, bigger than a file stream's buffer so that backpressure matters. */
  const uploadArb = fc
    .record({ boundary: fc.constantFrom('----test0123456789abcdef', 'X', '----WebKitFormBoundary7MA4YWxkTrZu0gW'), size: fc.integer({ min: 200, max: 60_000 }) })
    .map(
      ({ boundary, size }): Form => ({
        boundary,
        preamble: '',
        parts: [
          { header: 'Content-Disposition: form-data; name="title"', body: Buffer.from('Holiday'), afterDelimiter: '\r\n' },
          { header: 'Content-Disposition: form-data; name="file"; filename="photo.png"\r\nContent-Type: image/png', body: pad(png(8, 8), size), afterDelimiter: '\r\n' },
        ],
        ending: `\r\n--${boundary}--\r\n`,
      }),
    );

  /** Byte edits, and insertions of what framing and part headers are made of. */
  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      what: fc.constantFrom('\r\n', '\r', '\n', '-', '--', ':', ';', '"', '\\', '=', ' ', '\t', '\r\n\r\n', '\r\n ', '%', '%E2%82', '*', "''", '\xe9', 'DELIMITER', 'DELIMITER--', 'DELIMITER\r\n', 'filename*=', '; name="y"', 'Content-Disposition: form-data; name="x"; filename="y.png"\r\n\r\n'),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

  function mutate(bytes: Buffer, boundary: string, m: Mutation): Buffer {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case 'set':
        return at === bytes.length ? bytes : Buffer.concat([bytes.subarray(0, at), Buffer.from([m.byte]), bytes.subarray(at + 1)]);
      case 'delete':
        return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
      case 'insert':
        return Buffer.concat([bytes.subarray(0, at), Buffer.from(m.what.replace('DELIMITER', `\r\n--${boundary}`), 'latin1'), bytes.subarray(at)]);
      case 'truncate':
        return bytes.subarray(0, at);
    }
  }

  /** A form in pieces (preamble, delimiter lines, header blocks, bodies, ending); each mutation edits one piece. */
  const caseArb = fc.record({
    form: fc.oneof(uploadArb, formArb),
    mutations: fc.array(fc.record({ piece: fc.nat(), mutation: mutationArb }), { minLength: 1, maxLength: 6 }),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
    slowReader: fc.boolean(),
  });

  type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

  function mutatedBody(c: Case): Buffer {
    const f = c.form;
    const pieces: Buffer[] = [Buffer.from(f.preamble, 'latin1')];
    f.parts.forEach((p, i) => {
      pieces.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${f.boundary}${p.afterDelimiter}`, 'latin1'), Buffer.from(`${p.header}\r\n\r\n`, 'latin1'), p.body);
    });
    pieces.push(Buffer.from(f.ending, 'latin1'));
    for (const { piece, mutation } of c.mutations) pieces[piece % pieces.length] = mutate(pieces[piece % pieces.length]!, f.boundary, mutation);
    return Buffer.concat(pieces);
  }

  it('fuzz: any mutation, cut anywhere, read fast or slowly: no exception escapes, and the events are busboy\'s', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const contentType = `multipart/form-data; boundary=${c.form.boundary}`;
        const chunks = cut(mutatedBody(c), c.cuts);
        const limits = { ...LIMITS, fileSize: 1 << 20 };
        const ours = await run(new FormDataParser({ ...parserOptions(contentType), limits }), chunks, c.slowReader);
        const theirs = await run(busboy({ headers: { 'content-type': contentType }, limits, preservePath: false, defParamCharset: 'utf8' }), chunks, c.slowReader);
        expectBusboysEvents(ours, theirs);
      }),
      { numRuns: 1000 },
    );
  }, 300_000);

  it('fuzz: nobody reads the files: each file stream holds at most its buffer and one chunk, and the form ends once they are read', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const chunks = cut(mutatedBody(c), c.cuts);
        const parser = new FormDataParser({ ...parserOptions(`multipart/form-data; boundary=${c.form.boundary}`), limits: { ...LIMITS, fileSize: 1 << 20 } });
        const files: Readable[] = [];
        parser.on('file', (_name: string, stream: Readable) => {
          stream.on('error', () => {});
          files.push(stream);
        });
        parser.on('error', () => {});
        const closed = new Promise<boolean>((resolve) => {
          parser.once('close', () => resolve(true));
          setTimeout(() => resolve(false), 2000).unref();
        });
        for (const chunk of chunks) parser.write(chunk);
        parser.end();
        for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
        const largestChunk = Math.max(0, ...chunks.map((ch) => ch.length));
        for (const f of files) expect(f.readableLength).toBeLessThanOrEqual(f.readableHighWaterMark + largestChunk);
        parser.on('file', (_name: string, stream: Readable) => stream.resume());
        for (const f of files) f.resume();
        expect(await closed).toBe(true);
      }),
      { numRuns: 500 },
    );
  }, 300_000);
});

describe('FormDataParser header values (Content-Disposition, Content-Type)', () => {
  /** Pieces that matter to the grammar, and a few that break it. */
  const pieceArb = fc.constantFrom(
    'form-data', 'attachment', 'name', 'filename', 'filename*', 'charset', '=', ';', ' ', '\t', '"', '\\', "'", '%', '%41', '%e2%82%ac', '%4', '*',
    'UTF-8', 'utf-16le', 'ISO-8859-1', 'x-unknown', 'en', "UTF-8''", "x.y''", "a{b}~''", "latin1'en'", "'en-GB'", 'a.png', 'C:\\dir\\b.gif', '/', '..', '.', 'text', 'plain', 'image/png', ',', '\x01', '\x7f', '\xe9', '\xc3\xa9', 'multipart', 'form-data;',
  );
  const valueArb = fc.array(pieceArb, { maxLength: 14 }).map((ps) => ps.join(''));
  /** Mostly well-formed values, then anything made of the pieces above. */
  const dispositionArb = fc.oneof(
    fc.tuple(fc.constantFrom('name', 'filename', 'filename*', 'NAME'), valueArb).map(([k, v]) => `form-data; name="f"; ${k}=${v}`),
    fc.tuple(valueArb, valueArb).map(([a, b]) => `form-data; name=${a}; filename="${b}"`),
    valueArb,
  );
  const typeArb = fc.oneof(fc.tuple(valueArb, valueArb).map(([a, b]) => `${a}/${b}`), valueArb.map((v) => `text/plain; charset=${v}`), valueArb);

  it('property: any Content-Disposition and Content-Type of a part give busboy\'s events', async () => {
    await fc.assert(
      fc.asyncProperty(dispositionArb, typeArb, fc.boolean(), async (disposition, type, withType) => {
        const head = `Content-Disposition: ${disposition}${withType ? `\r\nContent-Type: ${type}` : ''}`;
        const body = Buffer.from(`--B\r\n${head}\r\n\r\nv\xe9lue\r\n--B--\r\n`, 'latin1');
        const contentType = 'multipart/form-data; boundary=B';
        expectBusboysEvents(await run(new FormDataParser(parserOptions(contentType)), [body], false), await run(busboyFor(contentType), [body], false));
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('property: any request Content-Type is refused, or read to the same boundary, as by busboy', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('B', '"B"', 'b', 'B x', '"B\\"'), valueArb, fc.constantFrom('multipart/form-data', 'Multipart/Form-Data', 'multipart/form-data ', 'multipart/mixed'), async (boundary, rest, type, ) => {
        const contentType = `${type}; boundary=${boundary}${rest}`;
        let theirs: Writable | undefined;
        try {
          theirs = busboyFor(contentType);
        } catch {
          expect(() => new FormDataParser(parserOptions(contentType))).toThrow();
          return;
        }
        const body = Buffer.from('--B\r\nContent-Disposition: form-data; name="t"\r\n\r\nx\r\n--B--\r\n');
        expectBusboysEvents(await run(new FormDataParser(parserOptions(contentType)), [body], false), await run(theirs, [body], false));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);
});

describe('DelimiterScanner', () => {
  it('property: finds every delimiter and returns every other byte, whatever the cuts', () => {
    fc.assert(
      fc.property(
        boundaryArb,
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 50 }).map((a) => Buffer.from(a)), fc.constantFrom(Buffer.from('\r'), Buffer.from('\r\n-'), Buffer.from('--'))), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (boundary, pieces, cuts) => {
          const needle = Buffer.from(`\r\n--${boundary}`);
          const haystack = Buffer.concat(pieces.flatMap((p, i) => (i % 3 === 2 ? [p, needle] : [p])));
          const got: (Buffer | 'MATCH')[] = [];
          const scanner = new DelimiterScanner(needle, (data, start, end, atDelimiter) => {
            if (data && end > start) got.push(data.subarray(start, end));
            if (atDelimiter) got.push('MATCH');
          });
          for (const c of cut(haystack, cuts)) scanner.write(c);
          scanner.flush();
          // Expected: the haystack split at each delimiter (found left to right, never overlapping).
          const expected: (Buffer | 'MATCH')[] = [];
          let pos = 0;
          for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, pos)) {
            expected.push(haystack.subarray(pos, at), 'MATCH');
            pos = at + needle.length;
          }
          expected.push(haystack.subarray(pos));
          const join = (xs: (Buffer | 'MATCH')[]) => {
            const out: string[] = [''];
            for (const x of xs) {
              if (x === 'MATCH') out.push('');
              else out[out.length - 1] += x.toString('hex');
            }
            return out;
          };
          expect(join(got)).toEqual(join(expected));
        },
      ),
      { numRuns: 500 },
    );
  });
});
