/**
 * Standing in for Zoho's own hosts: the official SDK, configured for a Zoho data centre exactly as against the real
 * service (its `*DataCenter.PRODUCTION()` environment), talks HTTPS to this server once those host names lead here.
 *
 * The certificate is self-signed, made here with openssl for every Zoho host name; the SDK's process trusts it as a
 * user's would (NODE_EXTRA_CA_CERTS, here the agent's `ca`). Host names are pointed at the server the way a hosts
 * file and a port forward would: an HTTPS agent whose connections go to 127.0.0.1 and this server's port while TLS
 * still sees — and the certificate is checked against — the Zoho host name the SDK asked for.
 */
import { execFile } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADMIN_EMAIL } from '../../src/admin/bootstrap.js';
import { accountsHosts, allZohoHosts, apiDomainForHost } from '../../src/server/zoho-hosts.js';
import { backendName } from '../helpers/backend.js';
import { png } from '../helpers/images.js';
import { SDK_VERSIONS, Scratch, className, downloadedBytes, fileStream, initSdk } from '../helpers/sdk.js';
import { TestServer, http } from '../helpers/server.js';

const run = promisify(execFile);
const v = SDK_VERSIONS[0]!; // 8.0
const { sdk } = v;

/** Connections for any host go to 127.0.0.1:`port`; TLS keeps the requested name (SNI and certificate check). */
class LoopbackAgent extends https.Agent {
  constructor(
    private readonly port: number,
    ca: Buffer,
  ) {
    super({ ca, keepAlive: false });
  }

  override createConnection(options: tls.ConnectionOptions): Duplex {
    return tls.connect({ ...options, host: '127.0.0.1', port: this.port, servername: options.servername ?? options.host });
  }
}

const DATA_CENTRES = [
  ['US', () => sdk.USDataCenter.PRODUCTION(), 'www.zohoapis.com'],
  ['EU', () => sdk.EUDataCenter.PRODUCTION(), 'www.zohoapis.eu'],
  ['IN', () => sdk.INDataCenter.PRODUCTION(), 'www.zohoapis.in'],
  ['AU', () => sdk.AUDataCenter.PRODUCTION(), 'www.zohoapis.com.au'],
  ['JP', () => sdk.JPDataCenter.PRODUCTION(), 'www.zohoapis.jp'],
  ['CA', () => sdk.CADataCenter.PRODUCTION(), 'www.zohoapis.ca'],
  // The SDK's index does not export SADataCenter: the environment it would build.
  ['SA', () => new sdk.Environment('https://www.zohoapis.sa', 'https://accounts.zoho.sa/oauth/v2/token', 'https://files.zoho.sa'), 'www.zohoapis.sa'],
  ['CN', () => sdk.CNDataCenter.PRODUCTION(), 'www.zohoapis.com.cn'],
] as const;

describe('api_domain for a token request, by the Host it came to', () => {
  it.each([
    ['accounts.zoho.com', 'https://www.zohoapis.com'],
    ['accounts.zoho.eu', 'https://www.zohoapis.eu'],
    ['accounts.zoho.in:443', 'https://www.zohoapis.in'],
    ['accounts.zoho.com.au', 'https://www.zohoapis.com.au'],
    ['accounts.zoho.jp', 'https://www.zohoapis.jp'],
    ['accounts.zohocloud.ca', 'https://www.zohoapis.ca'],
    ['accounts.zoho.ca', 'https://www.zohoapis.ca'],
    ['accounts.zoho.sa', 'https://www.zohoapis.sa'],
    ['ACCOUNTS.ZOHO.COM.CN', 'https://www.zohoapis.com.cn'],
    ['sandbox.zohoapis.eu', 'https://sandbox.zohoapis.eu'],
    ['content.zohoapis.com', 'https://www.zohoapis.com'],
    ['127.0.0.1:8787', 'http://127.0.0.1:8787'],
    ['accounts.zoho.com.evil.test', 'http://accounts.zoho.com.evil.test'],
  ])('%s → %s', (host, expected) => {
    expect(apiDomainForHost(host, 'http')).toBe(expected);
  });

  it('every data centre has an accounts host and a production API host in the list a certificate covers', () => {
    const all = allZohoHosts();
    for (const [, , api] of DATA_CENTRES) expect(all).toContain(api);
    expect(accountsHosts('ca')).toContain('accounts.zohocloud.ca');
  });
});

describe.skipIf(backendName() !== 'sqlite-disk')('the official SDK 8.0 for each Zoho data centre, over HTTPS with a self-signed certificate', () => {
  let server: TestServer;
  let scratch: Scratch;
  let ca: Buffer;
  let certDir: string;
  const defaultAgent = https.globalAgent;
  const defaultDispatcher = getGlobalDispatcher();

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'crm-media-tls-'));
    const san = [...allZohoHosts().map((h) => `DNS:${h}`), 'DNS:localhost', 'IP:127.0.0.1'].join(',');
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=crm-media-server test', '-addext', `subjectAltName=${san}`,
      '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'),
    ]);
    ca = await readFile(join(certDir, 'cert.pem'));
    // The test's own admin calls (undici) trust the certificate too.
    setGlobalDispatcher(new Agent({ connect: { ca } }));
    server = await TestServer.start({ tlsCert: join(certDir, 'cert.pem'), tlsKey: join(certDir, 'key.pem'), apiDomainFromHost: true });
    scratch = new Scratch();
    // got (the SDK's HTTP client) uses Node's global HTTPS agent.
    https.globalAgent = new LoopbackAgent(server.server.port, ca);
  });

  afterAll(async () => {
    https.globalAgent = defaultAgent;
    setGlobalDispatcher(defaultDispatcher);
    await server?.stop();
    scratch?.remove();
    await rm(certDir, { recursive: true, force: true });
  });

  it('serves HTTPS only, with the given certificate', async () => {
    expect(server.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const peer = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.server.port, servername: 'www.zohoapis.eu', ca }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.once('error', reject);
    });
    expect(peer.subjectaltname).toContain('DNS:accounts.zohocloud.ca');
    await expect(http('GET', `http://127.0.0.1:${server.server.port}/healthz`)).rejects.toThrow();
  });

  it.each(DATA_CENTRES)('%s: grant code → tokens at its accounts host; api_domain is its API host; a photo round-trips there', async (_dc, environment, apiHost) => {
    const recordId = await server.createRecord();
    const client = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients`, { user: DEFAULT_ADMIN_EMAIL });
    const grant = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL' });
    const token = new sdk.OAuthBuilder().clientId(client.client_id).clientSecret(client.client_secret).grantToken(grant.code).build();

    const seqBefore = server.server.journal.list({}, 1)[0]?.seq ?? 0;
    const session = await initSdk(v, '', token, scratch.dir, environment());
    expect(session.store.last?.accessToken).toMatch(/^1000\./);

    const image = png(20, 20);
    const body = new sdk.Record.FileBodyWrapper();
    body.setFile(fileStream(v, scratch.file(`dc-${apiHost}.png`, image)));
    const up = await new sdk.Record.RecordOperations('Leads').uploadPhoto(BigInt(recordId), body);
    expect(className(up.getObject())).toBe('SuccessResponse');
    const got = await new sdk.Record.RecordOperations('Leads').getPhoto(BigInt(recordId));
    expect(downloadedBytes(got.getObject()).equals(image)).toBe(true);

    // What reached the server: the token request, then the two photo calls (the journal does not keep hosts, but the
    // token answer did name this data centre's API host, or the SDK would have called another).
    const entries = server.server.journal.list({ afterSeq: seqBefore }, 20).map((e) => e.operation);
    expect(entries).toEqual(expect.arrayContaining(['token', 'photo.upload', 'photo.download']));
    const direct = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host: accountsHost(apiHost), path: '/oauth/v2/token', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.once('error', reject);
      req.end(`grant_type=refresh_token&client_id=${client.client_id}&client_secret=${client.client_secret}&refresh_token=${session.store.last?.refreshToken}`);
    });
    expect(JSON.parse(direct)).toMatchObject({ api_domain: `https://${apiHost}`, token_type: 'Bearer' });
  });
});

function accountsHost(apiHost: string): string {
  const tld = apiHost.replace('www.zohoapis.', '');
  return tld === 'ca' ? 'accounts.zohocloud.ca' : `accounts.zoho.${tld}`;
}
