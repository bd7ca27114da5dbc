/**
 * A real server for tests: real HTTP on 127.0.0.1 (random port), a real SQLite file and real blob files in a
 * fresh temporary directory. Helpers make orgs, users, tokens and records through the admin API, the same way a
 * user of the emulator would.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { request } from 'undici';
import { type Config, type ConfigInput, loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { type BackendName, type PreparedBackend, backendName, prepareBackend } from './backend.js';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  /** Parsed JSON body (undefined when the body is empty or not JSON). */
  json: any;
}

export interface RequestOptions {
  token?: string | null;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable | AsyncIterable<Buffer> | null;
  query?: Record<string, string>;
}

export async function http(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers['authorization'] = `Zoho-oauthtoken ${opts.token}`;
  const qs = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
  const res = await request(`${url}${qs}`, {
    method: method as never,
    headers,
    body: (opts.body ?? null) as never,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers as HttpResponse['headers'], body, text, json };
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

export class TestServer {
  private constructor(
    public server: RunningServer,
    readonly dataDir: string,
    private readonly overrides: ConfigInput,
    readonly devToken: string,
    readonly backend: PreparedBackend,
  ) {}

  /** A server on the backend of the current vitest project (see test/helpers/backend.ts). */
  static async start(overrides: ConfigInput = {}, backend_: BackendName = backendName(), logger?: Logger): Promise<TestServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'crm-media-test-'));
    const devToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    const backend = await prepareBackend(dataDir, backend_);
    const all = { ...backend.overrides, ...overrides };
    try {
      const config = TestServer.config(dataDir, devToken, all);
      return new TestServer(await startServer(config, logger), dataDir, all, devToken, backend);
    } catch (err) {
      await backend.teardown();
      throw err;
    }
  }

  private static config(dataDir: string, devToken: string, overrides: ConfigInput): Config {
    return loadConfig(
      {
        dataDir,
        port: 0,
        host: '127.0.0.1',
        logLevel: 'silent',
        devToken,
        adminKey: 'test-admin-key-0123456789',
        sweepIntervalMs: 0,
        // Tests present wrong keys on purpose; the throttle has its own tests (console-auth.test.ts).
        adminAuthMaxFailures: 1_000_000,
        ...overrides,
      },
      {},
    );
  }

  get url(): string {
    return this.server.url;
  }

  get runtime() {
    return this.server.runtime;
  }

  /** The bootstrap org (the default org every fresh data directory gets). */
  get orgId(): string {
    return this.server.bootstrap!.org.id;
  }

  get adminUserId(): string {
    return this.server.bootstrap!.admin.id;
  }

  /** Stops and starts again on the same data directory (and a new port). */
  async restart(): Promise<void> {
    await this.server.stop();
    this.server = await startServer(TestServer.config(this.dataDir, this.devToken, this.overrides));
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.backend.teardown();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** A call to the Zoho API (`path` starts with `/crm/`) with the dev token unless told otherwise. */
  api(method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    return http(method, `${this.url}${path}`, { token: this.devToken, ...opts });
  }

  /** Where /_admin and /_console are: the server's URL, or its admin listener's. */
  get adminUrl(): string {
    return this.server.adminUrl;
  }

  async admin(method: string, path: string, body?: unknown): Promise<any> {
    const res = await http(method, `${this.adminUrl}/_admin${path}`, {
      headers: { 'x-admin-key': 'test-admin-key-0123456789', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`admin ${method} ${path} → ${res.status} ${res.text}`);
    return res.json;
  }

  async createOrg(name = `org-${randomBytes(3).toString('hex')}`, timeZone = 'UTC'): Promise<{ id: string; adminToken: string }> {
    const org = await this.admin('POST', '/orgs', { name, time_zone: timeZone });
    const user = await this.admin('POST', `/orgs/${org.id}/users`, {
      name: 'Org Admin',
      email: `admin-${org.id}@example.test`,
      profile: 'Administrator',
    });
    const token = await this.admin('POST', `/orgs/${org.id}/tokens`, { user: user.id });
    return { id: org.id, adminToken: token.access_token };
  }

  /** A user of `org` with a new profile of the given permissions, and a token with `scopes`. */
  async createUser(opts: {
    org?: string;
    scopes?: string;
    profile?: string;
    permissions?: Record<string, { view?: boolean; create?: boolean; edit?: boolean; delete?: boolean; tab?: boolean }>;
    admin?: boolean;
    expiresIn?: number;
  } = {}): Promise<TestUser> {
    const org = opts.org ?? this.orgId;
    let profile = opts.profile ?? 'Standard';
    if (opts.permissions || opts.admin) {
      const p = await this.admin('POST', `/orgs/${org}/profiles`, {
        name: `p-${randomBytes(4).toString('hex')}`,
        admin: opts.admin ?? false,
        permissions: opts.permissions ?? { '*': { view: true, create: true, edit: true, delete: true } },
      });
      profile = p.id;
    }
    const email = `u-${randomBytes(4).toString('hex')}@example.test`;
    const user = await this.admin('POST', `/orgs/${org}/users`, { name: `User ${email}`, email, profile });
    const token = await this.admin('POST', `/orgs/${org}/tokens`, {
      user: user.id,
      ...(opts.scopes ? { scopes: opts.scopes } : {}),
      ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}),
    });
    return { id: user.id, email, token: token.access_token };
  }

  /** A record made through Zoho's Records API (as a client would), returning its id. */
  async createRecord(module = 'Leads', token: string = this.devToken, fields: Record<string, unknown> = { Last_Name: 'Boyle' }): Promise<string> {
    const res = await this.api('POST', `/crm/v8/${module}`, {
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: [fields] }),
    });
    if (res.status !== 201) throw new Error(`record insert failed: ${res.status} ${res.text}`);
    return res.json.data[0].details.id as string;
  }

  async setState(recordId: string, state: string, org: string = this.orgId): Promise<void> {
    await this.admin('PUT', `/orgs/${org}/records/${recordId}/state`, { state });
  }

  /** Blob files on disk (complete ones), for checking that nothing leaked or was lost. */
  async blobFiles(): Promise<string[]> {
    // Removals of replaced or rejected bytes run after the response; count what is left once they are done.
    await this.runtime.janitor.settled();
    const out: string[] = [];
    for await (const b of this.runtime.blobs.list()) out.push(b.key);
    return out.sort();
  }

  async tempFiles(): Promise<string[]> {
    return readdir(join(this.dataDir, 'tmp')).catch(() => []);
  }
}
