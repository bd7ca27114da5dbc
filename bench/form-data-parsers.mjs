#!/usr/bin/env node
/**
 * CPU per MiB of multipart/form-data parsers on the bench's own upload bodies, in one process, rounds interleaved.
 *
 *   npm run build && node bench/form-data-parsers.mjs
 *
 * Parsers: this checkout's (dist/, built), busboy (the baseline's parser), and, when they are installed
 * (`npm install --no-save @fastify/busboy @remix-run/multipart-parser`), @fastify/busboy and
 * @remix-run/multipart-parser; `FORMDATA_OTHER=DIR` adds the parser of another built checkout of this project.
 * Bodies: the bench's 1 MiB photo and 8 MiB attachment, each one `file` part (bench/lib/fixtures.mjs), fed in 64 KiB
 * chunks as node:http hands them over; every file stream is read to its end. The figure is the process's user+system
 * CPU time per MiB of body (median over rounds, min–max), so load from other processes on the machine affects it
 * much less than a throughput figure.
 * Environment: FORMDATA_ROUNDS (7), FORMDATA_MIB (64: MiB parsed per parser, body and round), FORMDATA_CHUNK (65536).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { binaryVariants, photoVariants } from './lib/images.mjs';
import { filePart } from './lib/multipart.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const env = process.env;
const ROUNDS = Number(env.FORMDATA_ROUNDS ?? 7);
const MIB_PER_RUN = Number(env.FORMDATA_MIB ?? 64);
const CHUNK = Number(env.FORMDATA_CHUNK ?? 65536);
const MiB = 1024 * 1024;

/** Resolves once every file stream has ended and the parser has finished (`endEvent`); counts the file bytes read. */
function drive(parser, chunks, endEvent) {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    parser.on('file', (...args) => {
      const stream = args.find((a) => a && typeof a.on === 'function' && typeof a.read === 'function');
      stream.on('data', (c) => {
        bytes += c.length;
      });
    });
    parser.on('error', reject);
    parser.on(endEvent, () => resolve(bytes));
    let i = 0;
    const pump = () => {
      while (i < chunks.length) {
        if (!parser.write(chunks[i++])) return void parser.once('drain', pump);
      }
      parser.end();
    };
    pump();
  });
}

/** A parser with busboy's shape (a Writable emitting 'file' with a stream), made per body. */
const writableDriver = (make, endEvent = 'close') => (contentType, chunks) => drive(make(contentType), chunks, endEvent);

async function loadDrivers() {
  const drivers = [];
  const ours = async (root, name) => {
    // server/form-data/ since the parser is the project's own; server/form-data-parser.js in older checkouts.
    const file = ['dist/server/form-data/index.js', 'dist/server/form-data-parser.js'].map((f) => join(root, f)).find((f) => existsSync(f));
    if (!file) return console.log(`${name}: no built parser under ${root}/dist (npm run build)`);
    const { FormDataParser } = await import(pathToFileURL(file).href);
    const limits = { fileSize: 200 * MiB, files: 4, fields: 16, parts: 24, fieldSize: 8192 };
    drivers.push({ name, run: writableDriver((contentType) => new FormDataParser({ contentType, limits, paramCharset: 'utf8' })) });
  };
  await ours(ROOT, 'crm-media (this checkout)');
  if (env.FORMDATA_OTHER) await ours(resolve(env.FORMDATA_OTHER), `crm-media (${env.FORMDATA_OTHER})`);

  const busboy = require('busboy');
  drivers.push({ name: 'busboy', run: writableDriver((ct) => busboy({ headers: { 'content-type': ct }, limits: { fileSize: 200 * MiB } })) });

  const optional = (pkg) => {
    try {
      return require(pkg);
    } catch {
      console.log(`${pkg}: not installed, skipped`);
      return undefined;
    }
  };
  const fastify = optional('@fastify/busboy');
  if (fastify) {
    drivers.push({
      name: '@fastify/busboy',
      // Its Writable does not destroy itself: 'finish' is its last event.
      run: writableDriver((ct) => new fastify.Busboy({ headers: { 'content-type': ct }, limits: { fileSize: 200 * MiB } }), 'finish'),
    });
  }
  if (optional('@remix-run/multipart-parser/package.json')) {
    const remix = await import('@remix-run/multipart-parser');
    drivers.push({
      name: '@remix-run/multipart-parser',
      // Generator API: a part is yielded once its last byte has arrived, its content held in memory.
      run: async (contentType, chunks) => {
        const parser = new remix.MultipartParser(remix.getMultipartBoundary(contentType), { maxFileSize: 200 * MiB, maxTotalSize: 1 << 30 });
        let bytes = 0;
        for (const chunk of chunks) for (const part of parser.write(chunk)) for (const c of part.content) bytes += c.length;
        parser.finish();
        return bytes;
      },
    });
  }
  return drivers;
}

function cutIntoChunks(body) {
  const chunks = [];
  for (let at = 0; at < body.length; at += CHUNK) chunks.push(body.subarray(at, at + CHUNK));
  return chunks;
}

const bodies = [
  { name: 'photo 1 MiB', raws: photoVariants(MiB, 3, 640), filename: 'photo.png', type: 'image/png' },
  { name: 'attachment 8 MiB', raws: binaryVariants(8 * MiB, 3), filename: 'attachment.bin', type: 'application/octet-stream' },
].map((b) => {
  const parts = b.raws.map((raw) => filePart(raw, b.filename, b.type));
  return { name: b.name, size: b.raws[0].length, parts: parts.map((p) => ({ contentType: p.contentType, chunks: cutIntoChunks(p.body), bodySize: p.body.length })) };
});

const drivers = await loadDrivers();
const results = new Map(); // `${body}\t${driver}` → µs per MiB, one per round

async function measure(driver, body) {
  const runs = Math.max(1, Math.round((MIB_PER_RUN * MiB) / body.size));
  let bodyBytes = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const part = body.parts[i % body.parts.length];
    const got = await driver.run(part.contentType, part.chunks);
    if (got !== body.size) throw new Error(`${driver.name} read ${got} file bytes of ${body.size}`);
    bodyBytes += part.bodySize;
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / (bodyBytes / MiB);
}

for (const body of bodies) for (const d of drivers) await measure(d, body); // warm-up, and every parser checked once
for (let round = 0; round < ROUNDS; round++) {
  // Each round starts with another parser, so no parser always runs right after the same one.
  const order = drivers.map((_, i) => drivers[(i + round) % drivers.length]);
  for (const body of bodies) {
    for (const d of order) {
      const key = `${body.name}\t${d.name}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(await measure(d, body));
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\nNode ${process.version}; ${ROUNDS} rounds × ${MIB_PER_RUN} MiB per parser and body, ${CHUNK}-byte chunks\n`);
console.log('| body | parser | CPU µs per MiB, median (min–max) | ÷ busboy |');
console.log('| --- | --- | --- | --- |');
for (const body of bodies) {
  const base = median(results.get(`${body.name}\tbusboy`));
  for (const d of drivers) {
    const xs = results.get(`${body.name}\t${d.name}`);
    const m = median(xs);
    console.log(`| ${body.name} | ${d.name} | ${m.toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}) | ${(m / base).toFixed(2)} |`);
  }
}
