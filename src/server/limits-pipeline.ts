/**
 * Where limits and faults meet HTTP: admitting a call under its org's limits (the 429s, `X-API-CREDITS-REMAINING`,
 * the slot given back when the response ends or the client goes away, whatever happens in between), and carrying out
 * the fault rules that fire on a request (a delay, an error, a connection reset before or after the headers, a body
 * cut short or trickled). Each limit or fault that touches a request is written in its journal entry's marks and, for
 * faults, in one log line.
 */
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../domain/access.js';
import { zohoError } from '../domain/errors.js';
import type { FaultOutcome, FaultTarget } from '../domain/faults.js';
import { ACCESS_DENIED } from '../domain/oauth.js';
import { type ApiOperation, OPERATIONS, type OperationName } from '../domain/operations.js';
import type { Runtime } from '../runtime.js';
import { sendJson } from './http.js';

const CREDITS_HEADER = 'x-api-credits-remaining';
const RESET_AFTER_HEADERS_MS = 10;

/** Admits the call or throws the limit's error (429), with its mark and the credits header either way. */
export async function admitRequest(rt: Runtime, request: FastifyRequest, reply: FastifyReply, principal: Principal, operation: ApiOperation): Promise<void> {
  const result = await rt.admissions.admit(principal, operation);
  if (!result.admitted) {
    request.journal?.marks.push(result.mark);
    if (result.creditsRemaining !== undefined) reply.header(CREDITS_HEADER, String(result.creditsRemaining));
    throw result.error;
  }
  const { admission } = result;
  if (admission.creditsRemaining !== undefined) reply.header(CREDITS_HEADER, String(admission.creditsRemaining));
  if (!admission.holdsSlots) return;
  // 'close' comes when the response has gone out or the connection went away first (a client that disconnects
  // mid-upload or mid-download, a timeout, a fault's reset): the slot is given back in every case.
  const res = reply.raw;
  if (res.destroyed || request.raw.socket?.destroyed) admission.release();
  else res.once('close', admission.release);
}

/**
 * Carries out the fault rules that fire on the request: waits out their delay, then throws their error, resets the
 * connection, answers the token endpoint's own error (returning the reply), or leaves a body fault for onSend.
 */
export async function applyFaults(rt: Runtime, request: FastifyRequest, reply: FastifyReply, target: FaultTarget): Promise<FastifyReply | undefined> {
  if (!rt.faults.active) return undefined;
  const plan = await rt.faults.plan(target);
  if (!plan) return undefined;
  request.journal?.marks.push(...plan.marks);
  request.log.info({ faults: plan.marks, rules: plan.ruleIds, operation: target.operation }, 'fault injected');
  if (plan.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
  const outcome = plan.outcome;
  if (!outcome) return undefined;
  switch (outcome.kind) {
    case 'error':
      // Per-endpoint texts (NO_PERMISSION, …) follow the operation the request was for.
      throw zohoError(outcome.error, outcome.details ?? {}, target.operation in OPERATIONS ? (target.operation as OperationName) : undefined);
    case 'token_error': {
      const body = outcome.error === ACCESS_DENIED.error ? ACCESS_DENIED : { error: outcome.error };
      if (request.journal) request.journal.code = body.error;
      return sendJson(reply, 200, body);
    }
    case 'reset':
      if (outcome.when === 'before_headers') return resetBeforeHeaders(request, reply);
      sendsFaulty(reply, outcome);
      return undefined;
    default:
      sendsFaulty(reply, outcome);
      return undefined;
  }
}

/**
 * Makes this one reply deliver its body as the fault says, whatever sends it (the route's answer, or the error
 * handler's). Wrapping the reply that needs it, rather than adding an onSend hook that runs on every reply, keeps
 * body faults from costing anything on the requests that have none (the default: no rules).
 */
function sendsFaulty(reply: FastifyReply, fault: FaultOutcome): void {
  const send = reply.send;
  reply.send = function sendFaulty(this: FastifyReply, payload?: unknown): FastifyReply {
    reply.send = send;
    return send.call(this, faultyBody(reply, payload, fault));
  };
}

/**
 * Tells Fastify that a response ended without completing (a reset, a cut body), so that its onResponse hooks (the
 * journal entry, the access log, metrics) still run; status 0 when nothing of the answer went out.
 */
function endedUnfinished(reply: FastifyReply, headersSent: boolean): void {
  if (!headersSent) reply.raw.statusCode = 0;
  reply.raw.emit('error', new Error('response cut short by a fault rule'));
}

/** Resets the connection before the headers: the client gets no answer at all. */
export function resetBeforeHeaders(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.hijack();
  request.raw.socket?.resetAndDestroy();
  endedUnfinished(reply, false);
  return reply;
}

/** The response body as the fault delivers it. */
function faultyBody(reply: FastifyReply, payload: unknown, fault: FaultOutcome): unknown {
  const res = reply.raw;
  // Taken now: a response that Node considers finished lets go of its socket.
  const socket = res.socket;
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : undefined;
  const source = bytes ? Readable.from([bytes]) : payload instanceof Readable ? payload : undefined;
  if (!source) {
    // No body (HEAD, 204, 304): only a reset after the headers has anything to act on.
    if (fault.kind === 'reset') res.once('finish', () => socket?.resetAndDestroy());
    return payload;
  }
  // The client must be able to tell that the body was cut: it is told how long the whole one is.
  if (bytes && !reply.hasHeader('content-length')) reply.header('content-length', String(bytes.length));
  switch (fault.kind) {
    case 'reset': {
      source.destroy();
      let reset = false;
      return new Readable({
        read() {
          if (this.readableEnded || reset) return;
          reset = true;
          res.flushHeaders();
          // A moment for the headers to reach the client: a reset right behind them may overtake them.
          setTimeout(() => {
            socket?.resetAndDestroy();
            endedUnfinished(reply, true);
          }, RESET_AFTER_HEADERS_MS);
        },
      });
    }
    case 'truncate':
      return truncated(source, fault.afterBytes, () => {
        // A graceful close after the bytes handed over: the client gets them, then the connection ends early.
        socket?.end();
        endedUnfinished(reply, true);
      });
    case 'throttle':
      return source.pipe(new Throttle(fault.bytesPerSecond));
    default:
      return payload;
  }
}

/**
 * The first `limit` bytes of `source`, in a stream that never ends by itself (the response must not complete); `cut`
 * runs once they have been handed on.
 */
function truncated(source: Readable, limit: number, cut: () => void): Readable {
  const out = new PassThrough();
  let sent = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    source.destroy();
    setImmediate(cut);
  };
  source.on('data', (chunk: Buffer) => {
    if (done) return;
    const piece = chunk.subarray(0, Math.max(0, limit - sent));
    sent += piece.length;
    if (piece.length > 0 && !out.write(piece)) {
      source.pause();
      out.once('drain', () => source.resume());
    }
    if (sent >= limit) finish();
  });
  // A body no longer than the limit goes out whole, and the connection still closes after it.
  source.once('end', finish);
  source.once('error', finish);
  if (limit === 0) setImmediate(finish);
  return out;
}

/** Passes bytes on at `bytesPerSecond`, in slices of about a twentieth of a second. */
class Throttle extends Transform {
  private readonly slice: number;
  private nextAt = Date.now();

  constructor(private readonly bytesPerSecond: number) {
    super();
    this.slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    const step = () => {
      if (offset >= chunk.length || this.destroyed) return callback();
      const piece = chunk.subarray(offset, offset + this.slice);
      offset += piece.length;
      this.nextAt = Math.max(this.nextAt, Date.now()) + (piece.length * 1000) / this.bytesPerSecond;
      this.push(piece);
      setTimeout(step, Math.max(0, this.nextAt - Date.now()));
    };
    step();
  }
}
