#!/usr/bin/env node
/**
 * A bench-only TCP proxy on 127.0.0.1 in front of a store, in its own process:
 *
 *   node bench/proxy.mjs --mode s3 --upstream 127.0.0.1:PORT [--delay-ms 20]
 *       HTTP/1.1 to an S3 store: counts requests by S3 operation and holds the first byte of every answer for
 *       `delay-ms` (a remote store's time to first byte; 0 = count only). An answer is what the store sends after
 *       the client last sent bytes, so `Expect: 100-continue` costs two delays, as it costs two round trips.
 *   node bench/proxy.mjs --mode pg --upstream 127.0.0.1:5432
 *       PostgreSQL's wire protocol: counts the statements clients execute (simple queries and extended-protocol
 *       Executes), by statement text.
 *
 * Prints `PROXY {"port":…,"control":…}`. The control port answers `GET /counts` (JSON) and `POST /reset`.
 * Everything stays on loopback; every buffer is bounded (a stalled side pauses the other).
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const mode = opt('mode', 's3');
const [upHost, upPort] = opt('upstream', '').split(':');
const delayMs = Number(opt('delay-ms', '0'));
if (upHost !== '127.0.0.1' || !Number(upPort)) {
  process.stderr.write('proxy: --upstream must be 127.0.0.1:PORT\n');
  process.exit(2);
}
const HOLD_LIMIT = 4 * 1024 * 1024;

let counts = new Map();
let unparsed = 0;
const count = (what) => counts.set(what, (counts.get(what) ?? 0) + 1);

/** Forwards `from` to `to`, pausing `from` while `to` is full. */
function pipeWithBackpressure(from, to) {
  from.on('data', (chunk) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

// ---- S3 (HTTP/1.1) ------------------------------------------------------------------------------

/** The S3 operation an HTTP request line stands for (path style: /bucket/key?query). */
function s3Operation(method, target) {
  const [path, query = ''] = target.split('?');
  const q = new URLSearchParams(query);
  const onObject = path.split('/').filter(Boolean).length > 1;
  if (method === 'GET') return q.has('uploads') ? 'ListMultipartUploads' : q.has('uploadId') ? 'ListParts' : onObject ? 'GetObject' : q.has('list-type') ? 'ListObjectsV2' : 'ListObjects/ListBuckets';
  if (method === 'HEAD') return onObject ? 'HeadObject' : 'HeadBucket';
  if (method === 'PUT') return q.has('partNumber') ? 'UploadPart' : onObject ? (q.has('x-id') && q.get('x-id') !== 'PutObject' ? q.get('x-id') : 'PutObject') : 'CreateBucket';
  if (method === 'POST') return q.has('uploads') ? 'CreateMultipartUpload' : q.has('uploadId') ? 'CompleteMultipartUpload' : q.has('delete') ? 'DeleteObjects' : 'POST';
  if (method === 'DELETE') return q.has('uploadId') ? 'AbortMultipartUpload' : onObject ? 'DeleteObject' : 'DeleteBucket';
  return method;
}

/** Splits a client's byte stream into requests (head + Content-Length body) and counts each one. */
function requestCounter() {
  let head = Buffer.alloc(0);
  let bodyLeft = 0;
  let lost = false;
  return (chunk) => {
    if (lost) return;
    // Bounded: every round consumes body bytes or a whole head.
    while (chunk.length > 0) {
      if (bodyLeft > 0) {
        const n = Math.min(bodyLeft, chunk.length);
        bodyLeft -= n;
        chunk = chunk.subarray(n);
        continue;
      }
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      chunk = Buffer.alloc(0);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 65536) lost = true;
        return;
      }
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      chunk = head.subarray(end + 4);
      head = Buffer.alloc(0);
      const [method, target] = lines[0].split(' ');
      count(s3Operation(method, target ?? '/'));
      const header = (name) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      if (/chunked/i.test(header('transfer-encoding') ?? '')) {
        // Not framed by a length: stop counting this connection rather than miscount it.
        unparsed++;
        lost = true;
        return;
      }
      bodyLeft = Number(header('content-length') ?? 0);
    }
  };
}

function s3Connection(client) {
  const upstream = connect({ host: upHost, port: Number(upPort) });
  const countRequest = requestCounter();
  let clientSpoke = false;
  /** Bytes of an answer held back until its delay has passed; undefined when nothing is held. */
  let held;
  let heldBytes = 0;
  let upstreamEnded = false;
  const destroy = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', destroy);
  upstream.on('error', destroy);
  client.on('close', () => upstream.destroy());
  // The store may close right after an answer (Connection: close): what is held still goes out first.
  upstream.on('end', () => {
    upstreamEnded = true;
    if (!held) client.end();
  });
  client.on('data', (chunk) => {
    clientSpoke = true;
    countRequest(chunk);
    if (!upstream.write(chunk)) {
      client.pause();
      upstream.once('drain', () => client.resume());
    }
  });
  const forward = (chunk) => {
    if (!client.write(chunk)) {
      upstream.pause();
      client.once('drain', () => upstream.resume());
    }
  };
  upstream.on('data', (chunk) => {
    if (held) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes > HOLD_LIMIT) upstream.pause();
      return;
    }
    if (clientSpoke && delayMs > 0) {
      clientSpoke = false;
      held = [chunk];
      heldBytes = chunk.length;
      setTimeout(() => {
        const out = held;
        held = undefined;
        heldBytes = 0;
        for (const c of out) forward(c);
        if (upstreamEnded) client.end();
        else if (upstream.isPaused() && !client.writableNeedDrain) upstream.resume();
      }, delayMs);
      return;
    }
    clientSpoke = false;
    forward(chunk);
  });
}

// ---- PostgreSQL (frontend messages) -------------------------------------------------------------

/** Counts what a PostgreSQL client executes: 'Q' (simple query) and 'E' (Execute of a bound portal). */
function pgCounter() {
  let buf = Buffer.alloc(0);
  let started = false;
  const statements = new Map(); // prepared statement name → SQL
  const portals = new Map(); // portal name → SQL
  const cstring = (b, at) => {
    const end = b.indexOf(0, at);
    return [b.toString('utf8', at, end), end + 1];
  };
  const label = (sql) => `${sql.replace(/\s+/g, ' ').trim().slice(0, 160)}`;
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    // Bounded: every round consumes one whole message.
    for (;;) {
      if (!started) {
        // Untyped start-up messages: SSLRequest/GSSENCRequest (then the real start-up) or the start-up itself.
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        if (code !== 80877103 && code !== 80877104) started = true;
        buf = buf.subarray(len);
        continue;
      }
      if (buf.length < 5) return;
      const type = String.fromCharCode(buf[0]);
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const body = buf.subarray(5, 1 + len);
      buf = buf.subarray(1 + len);
      if (type === 'Q') count(label(cstring(body, 0)[0]));
      else if (type === 'P') {
        const [name, at] = cstring(body, 0);
        statements.set(name, cstring(body, at)[0]);
      } else if (type === 'B') {
        const [portal, at] = cstring(body, 0);
        portals.set(portal, statements.get(cstring(body, at)[0]) ?? '?');
      } else if (type === 'E') count(label(portals.get(cstring(body, 0)[0]) ?? '?'));
    }
  };
}

function pgConnection(client) {
  const upstream = connect({ host: upHost, port: Number(upPort) });
  const countMessages = pgCounter();
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const s of [client, upstream]) {
    s.on('error', close);
    s.on('close', close);
  }
  client.on('data', (chunk) => countMessages(chunk));
  pipeWithBackpressure(client, upstream);
  pipeWithBackpressure(upstream, client);
}

// ---- servers ------------------------------------------------------------------------------------

const proxy = createServer({ noDelay: true }, mode === 'pg' ? pgConnection : s3Connection);
const control = createHttpServer((req, res) => {
  if (req.method === 'POST' && req.url === '/reset') {
    counts = new Map();
    unparsed = 0;
    res.end('{}');
    return;
  }
  if (req.method === 'GET' && req.url === '/counts') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ counts: Object.fromEntries(counts), unparsed }));
    return;
  }
  res.statusCode = 404;
  res.end();
});
proxy.listen(0, '127.0.0.1', () => {
  control.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PROXY ${JSON.stringify({ port: proxy.address().port, control: control.address().port, mode, delayMs })}\n`);
  });
});
const stop = () => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
