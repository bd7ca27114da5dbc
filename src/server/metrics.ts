/**
 * Prometheus metrics: request counts and latencies by route and status, bytes in and out, upload rejections by
 * reason. One registry per server, so that several servers in one process (tests) do not mix their figures.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly duration: Histogram<'route' | 'method' | 'status'>;
  private readonly bytesIn: Counter<'route'>;
  private readonly bytesOut: Counter<'route'>;
  private readonly rejections: Counter<'route' | 'reason'>;
  private readonly refusals: Counter<'kind' | 'status'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'crm_media_' });
    this.requests = new Counter({
      name: 'crm_media_http_requests_total',
      help: 'HTTP requests by route (operation), method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'crm_media_http_request_duration_seconds',
      help: 'HTTP request latency by route (operation), method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.bytesIn = new Counter({
      name: 'crm_media_request_body_bytes_total',
      help: 'Request body bytes received, by route',
      labelNames: ['route'],
      registers: [this.registry],
    });
    this.bytesOut = new Counter({
      name: 'crm_media_response_body_bytes_total',
      help: 'Response body bytes sent (as declared by Content-Length), by route',
      labelNames: ['route'],
      registers: [this.registry],
    });
    this.rejections = new Counter({
      name: 'crm_media_upload_rejections_total',
      help: 'Uploads refused, by route and Zoho error (the catalog entry name)',
      labelNames: ['route', 'reason'],
      registers: [this.registry],
    });
    this.refusals = new Counter({
      name: 'crm_media_protocol_refusals_total',
      help: 'Requests refused at the HTTP protocol level (malformed, too large, too slow, no Host, unmet Expect, CONNECT, HTTP/0.9 or 2.0), by kind and status (0: the connection was cut after an answer already on its way)',
      labelNames: ['kind', 'status'],
      registers: [this.registry],
    });
  }

  /** Children per label set, so that a request does not hash its labels four times (prom-client's cost). */
  private readonly children = new Map<
    string,
    {
      requests: Counter.Internal;
      duration: Histogram.Internal<string>;
      bytesIn: Counter.Internal;
      bytesOut: Counter.Internal;
    }
  >();

  observe(route: string, method: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const key = `${route} ${method} ${status}`;
    let c = this.children.get(key);
    if (!c) {
      const labels = { route, method, status: String(status) };
      c = {
        requests: this.requests.labels(labels),
        duration: this.duration.labels(labels),
        bytesIn: this.bytesIn.labels({ route }),
        bytesOut: this.bytesOut.labels({ route }),
      };
      this.children.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(seconds);
    if (bytesIn > 0) c.bytesIn.inc(bytesIn);
    if (bytesOut > 0) c.bytesOut.inc(bytesOut);
  }

  uploadRejected(route: string, reason: string): void {
    this.rejections.inc({ route, reason });
  }

  /** Webhook attempts of this instance by outcome, read from `outcomes` at every scrape. */
  watchWebhooks(outcomes: Readonly<Record<string, number>>): void {
    new Counter({
      name: 'crm_media_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this instance, by outcome (delivered; retry: failed, to be retried; failed: given up)',
      labelNames: ['outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(outcomes)) this.inc({ outcome }, n);
      },
    });
  }

  protocolRefused(kind: string, status: number): void {
    this.refusals.inc({ kind, status: String(status) });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
