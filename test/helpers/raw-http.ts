/**
 * One HTTP/1.1 exchange on a raw socket, recording every byte the server sends until it closes the connection and
 * how it closed: what a client sees of a reset, a truncated body or a throttled one, without a client library's
 * interpretation in between.
 */
import { connect } from 'node:net';

export interface RawExchange {
  /** Everything received. */
  bytes: Buffer;
  /** The status line and headers, when they arrived. */
  head: string | undefined;
  /** The bytes after the headers. */
  body: Buffer;
  /** The socket error that ended the exchange (ECONNRESET for a reset), if any. */
  error: string | undefined;
  /** Milliseconds from sending the request to the first byte and to the close. */
  firstByteMs: number | undefined;
  closeMs: number;
}

export function rawRequest(baseUrl: string, method: string, path: string, headers: Record<string, string>, timeoutMs = 30_000): Promise<RawExchange> {
  const url = new URL(baseUrl);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let firstByteMs: number | undefined;
    let error: string | undefined;
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), timeoutMs);
    socket.on('data', (d: Buffer) => {
      firstByteMs ??= Date.now() - started;
      chunks.push(d);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(chunks);
      const end = bytes.indexOf('\r\n\r\n');
      resolve({
        bytes,
        head: end === -1 ? undefined : bytes.subarray(0, end).toString('latin1'),
        body: end === -1 ? Buffer.alloc(0) : bytes.subarray(end + 4),
        error,
        firstByteMs,
        closeMs: Date.now() - started,
      });
    });
  });
}
