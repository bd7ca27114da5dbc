#!/usr/bin/env node
/**
 * The node:http baseline: the least a Node server must do to store and serve the same bytes durably. No auth, no
 * database, no hashing, no image probing — only what the OS and Node's HTTP stack cost on this machine.
 *
 *   node bench/baseline-server.mjs --port 0 --root DIR      → prints "baseline listening on http://127.0.0.1:PORT"
 *
 *   GET|HEAD /files/NAME   streams DIR/files/NAME (fs.createReadStream), Content-Type from the extension,
 *                          Content-Length from stat; 404 when missing.
 *   POST /files/NAME       multipart/form-data; the `file` part is streamed (busboy) to DIR/tmp, fsynced, renamed
 *                          over DIR/files/NAME and the directory fsynced — the same durability steps as crm-media's
 *                          disk store — then 200 {"ok":true,"size":N}.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { argOpt, reply, serveFiles, typeOf } from './lib/file-server.mjs';

const port = Number(argOpt('port', '0'));
const root = argOpt('root', './baseline-data');
const filesDir = join(root, 'files');
const tmpDir = join(root, 'tmp');
await mkdir(filesDir, { recursive: true });
await mkdir(tmpDir, { recursive: true });

const MAX_FILE = 110 * 1024 * 1024;

async function fsyncDir(dir) {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function get(req, res, name) {
  const path = join(filesDir, name);
  let st;
  try {
    st = await stat(path);
  } catch {
    return reply(res, 404, { error: 'not found' });
  }
  res.writeHead(200, {
    'content-type': typeOf(name),
    'content-length': st.size,
  });
  if (req.method === 'HEAD') return res.end();
  try {
    await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), res);
  } catch {
    res.destroy();
  }
}

function post(req, res, name) {
  let bb;
  try {
    bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: MAX_FILE } });
  } catch {
    return reply(res, 400, { error: 'not multipart' });
  }
  let written;
  bb.on('file', (field, stream) => {
    if (field !== 'file' || written) {
      stream.resume();
      return;
    }
    const tmp = join(tmpDir, `${randomBytes(12).toString('hex')}.part`);
    const sink = createWriteStream(tmp, { flags: 'wx', flush: true, highWaterMark: 256 * 1024 });
    written = pipeline(stream, sink).then(
      async () => {
        if (stream.truncated) throw new Error('file too large');
        await rename(tmp, join(filesDir, name));
        await fsyncDir(filesDir);
        return sink.bytesWritten;
      },
      async (err) => {
        await unlink(tmp).catch(() => {});
        throw err;
      },
    );
  });
  bb.on('close', async () => {
    if (!written) return reply(res, 400, { error: 'no file part' });
    try {
      reply(res, 200, { ok: true, size: await written });
    } catch (err) {
      reply(res, 500, { error: String(err?.message ?? err) });
    }
  });
  bb.on('error', (err) => reply(res, 400, { error: String(err?.message ?? err) }));
  req.pipe(bb);
}

serveFiles({ port, label: 'baseline', get, post });
