/**
 * Uploads that the test holds open: a multipart body with one `file` part that sends its first bytes, then waits at
 * a gate until the test lets it finish or makes the client give up (undici then destroys the connection, as a client
 * that goes away mid-upload). For concurrency limits (calls in flight) and for limits judged while a body streams.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { type HttpResponse, http } from './server.js';

export interface HeldUpload {
  /** The answer, once there is one (a 429 comes before the body is read; a success after `finish`). */
  response: Promise<HttpResponse | Error>;
  /** Body bytes of the file part sent so far. */
  sent(): number;
  /** Resolves once the first bytes are out and the body waits at its gate. */
  waiting: Promise<void>;
  /** Sends the rest and ends the body. */
  finish(): void;
  /** The client gives up mid-body. */
  abort(): void;
}

/**
 * POSTs `head` then, after the gate, `tail` as the `file` part to `url` with `token`. `filler` bytes of zeros go out
 * before the gate (for limits that must be crossed while the body streams).
 */
export function heldUpload(url: string, token: string, head: Buffer, tail: Buffer = Buffer.alloc(0), filler = 0): HeldUpload {
  const boundary = `----held${randomBytes(8).toString('hex')}`;
  let sent = 0;
  let open!: (go: boolean) => void;
  const gate = new Promise<boolean>((resolve) => (open = resolve));
  let waiting!: () => void;
  const atGate = new Promise<void>((resolve) => (waiting = resolve));
  async function* body(): AsyncIterable<Buffer> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="held.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    yield head;
    sent += head.length;
    const zeros = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 100_000 && filler > 0; i++) {
      const n = Math.min(zeros.length, filler);
      yield zeros.subarray(0, n);
      sent += n;
      filler -= n;
    }
    waiting();
    if (!(await gate)) throw new Error('client gave up');
    yield tail;
    sent += tail.length;
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  const response = http('POST', url, {
    token,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.from(body()),
  }).catch((err: Error) => err);
  return { response, sent: () => sent, waiting: atGate, finish: () => open(true), abort: () => open(false) };
}
