/**
 * Sends stored bytes: the headers the official SDKs need (Content-Type, Content-Disposition), ETag and
 * If-None-Match, single byte ranges, HEAD, and — for deployments behind nginx on the disk store — a hand-off of the
 * bytes to nginx with X-Accel-Redirect after the request has been authorized here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { zohoError } from '../domain/errors.js';
import type { AccelHandOff } from '../runtime.js';
import type { BlobRange, BlobReader } from '../domain/ports/blob-store.js';
import { contentDisposition, sendError } from './http.js';
import { etagMatches, parseRange } from './range.js';

export interface Downloadable {
  contentType: string;
  fileName: string;
  size: number;
  /** Content hash, when recorded: the ETag. */
  sha256: string | null;
  blobKey: string;
  open(range?: BlobRange): Promise<BlobReader | undefined>;
}

export interface DownloadOptions {
  accel?: AccelHandOff | undefined;
  /** What to answer when the bytes vanished between lookup and open (a concurrent replace or delete). */
  onGone(): FastifyReply | Promise<FastifyReply>;
}

export async function sendDownload(
  request: FastifyRequest,
  reply: FastifyReply,
  d: Downloadable,
  opts: DownloadOptions,
): Promise<FastifyReply> {
  // A strong validator either way: the bytes under one blob key never change.
  const etag = `"${d.sha256 ?? d.blobKey}"`;
  reply
    .header('content-type', d.contentType)
    .header('content-disposition', contentDisposition(d.fileName))
    .header('accept-ranges', 'bytes');
  reply.header('etag', etag);
  if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();

  const ifRange = request.headers['if-range'];
  const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined;
  const outcome = parseRange(rangeHeader, d.size);
  if (outcome.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${d.size}`);
    return sendError(reply, zohoError('RANGE_NOT_SATISFIABLE', { size: d.size }));
  }

  if (opts.accel) {
    // nginx serves the bytes (and satisfiable ranges) from its internal location; this reply carries only the
    // headers. An unsatisfiable range was answered above, in Zoho's shape (the documented nginx site sends its own
    // 416s here). An explicit 0 keeps a proxy_cache_valid in someone's nginx config from reusing it unasked.
    return reply
      .code(200)
      .header('x-accel-redirect', opts.accel.path(d.blobKey))
      .header('x-accel-expires', String(opts.accel.cacheSeconds))
      .send();
  }

  const range = outcome.kind === 'partial' ? outcome.range : undefined;
  const sized = (total: number) =>
    range
      ? reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${total}`).header('content-length', String(range.end - range.start + 1))
      : reply.code(200).header('content-length', String(total));
  // HEAD answers from the metadata: opening the bytes (a GET on S3) only to drop them would cost a read for nothing.
  if (request.method === 'HEAD') return sized(d.size).send();
  const reader = await d.open(range);
  if (!reader) return opts.onGone();
  sized(reader.size);
  // 'finish' comes from the socket's callback for the response's last write, so the bytes have left the buffer.
  // A response that never finishes (the client left) keeps the buffer out of the pool, and it becomes garbage.
  if (reader.release) reply.raw.once('finish', reader.release);
  return reply.send(reader.bytes ?? reader.stream);
}
