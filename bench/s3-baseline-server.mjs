#!/usr/bin/env node
/**
 * The S3 baseline: the least a Node server must do to store bytes in an S3 store and serve them back. No auth, no
 * database, no hashing, no image probing — node:http, busboy and the AWS SDK, with crm-media's S3 client settings
 * (path style, checksums only when required, an unlimited keep-alive socket pool).
 *
 *   node bench/s3-baseline-server.mjs --port 0 --endpoint http://127.0.0.1:PORT --bucket NAME
 *       (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)   → prints "s3-baseline listening on URL"
 *
 *   GET /files/NAME    GetObject, its body streamed to the response (Content-Type/Length from S3's answer); 404.
 *   POST /files/NAME   multipart/form-data; the `file` part streamed to S3 with lib-storage's Upload (one
 *                      PutObject for a body within one 5 MiB part, multipart beyond) — then 200 {"ok":true}.
 */
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import busboy from 'busboy';
import { argOpt, reply, serveFiles, typeOf } from './lib/file-server.mjs';

const port = Number(argOpt('port', '0'));
const endpoint = argOpt('endpoint');
const Bucket = argOpt('bucket');

const s3 = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  requestHandler: { httpAgent: { keepAlive: true, maxSockets: Infinity } },
});

async function get(_req, res, name) {
  let out;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket, Key: name }));
  } catch (err) {
    return reply(res, err?.$metadata?.httpStatusCode === 404 ? 404 : 502, { error: String(err?.name ?? err) });
  }
  res.writeHead(200, { 'content-type': typeOf(name), 'content-length': out.ContentLength });
  try {
    await pipeline(out.Body, res);
  } catch {
    res.destroy();
  }
}

function post(req, res, name) {
  let bb;
  try {
    bb = busboy({ headers: req.headers, limits: { files: 1 } });
  } catch {
    return reply(res, 400, { error: 'not multipart' });
  }
  let written;
  bb.on('file', (field, stream) => {
    if (field !== 'file' || written) {
      stream.resume();
      return;
    }
    const upload = new Upload({ client: s3, params: { Bucket, Key: name, Body: stream } });
    written = upload.done();
    written.catch(() => {});
  });
  bb.on('close', async () => {
    if (!written) return reply(res, 400, { error: 'no file part' });
    try {
      await written;
      reply(res, 200, { ok: true });
    } catch (err) {
      reply(res, 502, { error: String(err?.message ?? err) });
    }
  });
  bb.on('error', (err) => reply(res, 400, { error: String(err?.message ?? err) }));
  req.pipe(bb);
}

serveFiles({ port, label: 's3-baseline', get, post });
