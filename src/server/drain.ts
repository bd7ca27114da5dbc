/**
 * What to do with the rest of a request body that the server stopped reading (an upload rejected early).
 *
 * Closing the socket at once makes the kernel answer the unread bytes with a reset, and a reset can destroy the
 * error response in the client's receive buffer before the client reads it: the client then sees "connection
 * reset" instead of Zoho's error. So the rest is read and discarded, but only up to a bound in bytes and time;
 * past either bound the connection is dropped. Memory stays constant: discarded chunks are not kept.
 */
import type { IncomingMessage } from 'node:http';

export interface DrainLimits {
  maxBytes: number;
  maxMs: number;
}

export function drainRest(req: IncomingMessage, limits: DrainLimits): void {
  if (req.complete || req.destroyed) return;
  let drained = 0;
  const timer = setTimeout(() => req.socket.destroy(), limits.maxMs);
  timer.unref();
  const stop = () => clearTimeout(timer);
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limits.maxBytes) {
      stop();
      req.socket.destroy();
    }
  });
  req.once('end', stop);
  req.once('close', stop);
  req.once('error', stop);
  req.resume();
}
