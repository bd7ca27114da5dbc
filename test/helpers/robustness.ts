/**
 * Raw HTTP over a plain TCP socket, for requests no HTTP client will send: garbage request lines, lying
 * Content-Length, broken chunked encoding, half-sent uploads. Every wait is bounded.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { HttpResponse } from './server.js';

export interface RawResult {
  /** Every byte the server sent. */
  raw: Buffer;
  /** The server (or the timeout) closed the connection. */
  closed: boolean;
  /** The first complete response, when one arrived. */
  response: HttpResponse | undefined;
  timedOut: boolean;
  /** What `send` threw, if anything (a write to a socket the server closed, or a failed check inside `send`). */
  sendError: unknown;
}

export function openSocket(baseUrl: string): Promise<Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: hostname, port: Number(port) });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Parses one complete HTTP/1.1 response (Content-Length framed) from the start of `buf`, if there is one. */
export function parseResponse(buf: Buffer): HttpResponse | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : 0;
  const rest = buf.subarray(end + 4);
  if (rest.length < length) return undefined;
  const body = rest.subarray(0, length);
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), headers, body, text, json };
}

/**
 * Opens a connection, lets `send` write whatever it likes (it may wait between writes), and collects the answer
 * until the connection closes, or (with `until: 'response'`) until one complete response has arrived, or until
 * `timeoutMs`.
 */
export async function rawExchange(
  baseUrl: string,
  send: (sock: Socket) => Promise<void> | void,
  opts: { timeoutMs?: number; until?: 'close' | 'response' } = {},
): Promise<RawResult> {
  const sock = await openSocket(baseUrl);
  const chunks: Buffer[] = [];
  const until = opts.until ?? 'close';
  let closed = false;
  let timedOut = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, opts.timeoutMs ?? 5_000);
    const finish = () => {
      clearTimeout(timer);
      resolve();
    };
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (until === 'response' && parseResponse(Buffer.concat(chunks))) finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => {
      // A reset is an answer too; 'close' follows.
    });
  });
  let sendError: unknown;
  try {
    await send(sock);
  } catch (err) {
    // The server may close while we write; what it answered is still collected.
    sendError = err;
  }
  await done;
  if (!closed) sock.destroy();
  const raw = Buffer.concat(chunks);
  return { raw, closed, response: parseResponse(raw), timedOut, sendError };
}

export function write(sock: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) return reject(new Error('socket closed'));
    sock.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/** The head of an authorized upload request with a declared length, for tests that then send the body by hand. */
export function uploadHead(path: string, token: string, contentType: string, length: number): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Zoho-oauthtoken ${token}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`
  );
}
