/**
 * A webhook receiver on loopback for workflow tests: records every delivery, and answers with a status chosen per
 * delivery (to provoke retries and failures).
 */
import { createHmac } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: any;
  receivedAt: number;
}

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  /** Decides the status for each request (default 200). */
  respond: (d: Delivery, index: number) => number = () => 200;
  /** Waits woken by each delivery (no polling). */
  private readonly waiters = new Set<() => void>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static start(path = '/hook'): Promise<WebhookReceiver> {
    return WebhookReceiver.startOn(0, path);
  }

  /** On a given port (0 = any free one); rejects when the port is taken. */
  static async startOn(port: number, path = '/hook'): Promise<WebhookReceiver> {
    let receiver!: WebhookReceiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const d: Delivery = { headers: req.headers, body, json, receivedAt: Date.now() };
        receiver.deliveries.push(d);
        res.statusCode = receiver.respond(d, receiver.deliveries.length - 1);
        res.end('ok');
        for (const wake of [...receiver.waiters]) wake();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    return receiver;
  }

  /** Resolves once `predicate` holds for the deliveries so far (checked at each delivery); rejects after the timeout. */
  waitFor(predicate: (ds: Delivery[]) => boolean, timeoutMs = 10_000): Promise<Delivery[]> {
    if (predicate(this.deliveries)) return Promise.resolve(this.deliveries);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.deliveries)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(this.deliveries);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`webhook deliveries did not arrive: ${this.deliveries.length} so far`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  byEvent(event: string): Delivery[] {
    return this.deliveries.filter((d) => d.headers['x-crm-media-event'] === event);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Checks `X-CRM-Media-Signature` the way a receiver would. */
export function verifySignature(header: string | undefined, secret: string, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex');
  return expected === m[2];
}
