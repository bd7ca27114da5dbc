/**
 * Export and re-import: the current state as a seed document; export → reset → import → export gives the same
 * document, and the restored state works as the original did (tokens, client secrets and refresh tokens kept as
 * hashes still authenticate; photos and attachments come back byte for byte). Hand-written seeds may carry photos and
 * attachments too, judged by the upload rules, all or nothing. Limits and fault rules travel too: a rule keeps the
 * firings it has left (one with none left is not exported), and both are in force again after the import.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gif, png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

const KEY = 'test-admin-key-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.stop();
});

async function tokenCall(params: Record<string, string>): Promise<any> {
  const res = await http('POST', `${server.url}/oauth/v2/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return res.json;
}

/** A state with something of every kind the export writes. */
async function buildState() {
  const org = server.orgId;
  await server.admin('POST', `/orgs/${org}/modules`, { api_name: 'Pets', singular: 'Pet', plural: 'Pets', sharing: 'private' });
  await server.admin('PUT', `/orgs/${org}/modules/Contacts/sharing`, { sharing: 'public_read_only' });
  const sales = await server.admin('POST', `/orgs/${org}/profiles`, { name: 'Sales', permissions: { Leads: { view: true, create: true, edit: true, delete: false } } });
  const sal = await server.admin('POST', `/orgs/${org}/users`, { name: 'Sal', email: 'sal@example.test', profile: 'Sales' });
  const gone = await server.admin('POST', `/orgs/${org}/users`, { name: 'Gone', email: 'gone@example.test', profile: sales.id });
  await server.admin('PUT', `/orgs/${org}/users/${gone.id}`, { status: 'inactive' });
  const withPhoto = await server.createRecord('Leads', server.devToken, { Last_Name: 'Photo', Nested: { a: [1, 'ü'] } });
  const photo = png(12, 7);
  const up = filePart(photo, 'face.png', 'image/png');
  expect((await server.api('POST', `/crm/v8/Leads/${withPhoto}/photo`, { headers: { 'content-type': up.contentType }, body: up.body })).status).toBe(200);
  const file = filePart('attachment bytes', 'notes.txt', 'text/plain');
  const att = await server.api('POST', `/crm/v8/Leads/${withPhoto}/Attachments`, { headers: { 'content-type': file.contentType }, body: file.body });
  expect(att.status).toBe(200);
  await server.api('POST', `/crm/v8/Leads/${withPhoto}/Attachments?attachmentUrl=${encodeURIComponent('https://example.test/doc')}&title=Doc`);
  const locked = await server.createRecord('Leads');
  await server.setState(locked, 'awaiting_approval');
  await server.admin('POST', `/orgs/${org}/records`, { module: 'Pets', owner: sal.id, data: { Name: 'Rex' } });
  const client = await server.admin('POST', `/orgs/${org}/oauth-clients`, { name: 'Integration', user: server.adminUserId });
  const code = await server.admin('POST', `/orgs/${org}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL' });
  const exchanged = await tokenCall({ grant_type: 'authorization_code', client_id: client.client_id, client_secret: client.client_secret, code: code.code });
  expect(exchanged.refresh_token).toBeTruthy();
  await server.admin('POST', `/orgs/${org}/oauth-clients/${client.client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.Leads.READ', user: sal.id });
  const revoked = await server.admin('POST', `/orgs/${org}/tokens`, { user: sal.id, scopes: 'ZohoCRM.modules.ALL', label: 'old', expires_in: 3600 });
  await server.admin('DELETE', `/orgs/${org}/tokens/${revoked.id}`);
  const salToken = await server.admin('POST', `/orgs/${org}/tokens`, { user: 'sal@example.test', scopes: 'ZohoCRM.modules.Leads.ALL' });
  await server.admin('POST', `/orgs/${org}/workflows`, { name: 'hook', module: 'Leads', event: 'photo_uploaded', url: 'http://127.0.0.1:9/hook', secret: 's3cret', active: false });
  const other = await server.createOrg('Second org', 'Asia/Kolkata');
  const otherRecord = await server.createRecord('Contacts', other.adminToken, { Last_Name: 'Other' });
  await buildLimitsAndFaults(other.id, otherRecord, other.adminToken, salToken.access_token);
  return { withPhoto, photo, client, refreshToken: exchanged.refresh_token as string, salToken: salToken.access_token as string, other, otherRecord };
}

/**
 * Limits on both orgs (an edition with a figure replaced; explicit figures) and fault rules of every kind of firing:
 * times of which some are used, times all used (left out of the export), probability with an end, a token matched.
 */
async function buildLimitsAndFaults(otherOrg: string, otherRecord: string, otherToken: string, salToken: string) {
  await server.admin('PUT', `/orgs/${server.orgId}/limits`, { edition: 'professional', users: 3, token_limits: false });
  await server.admin('PUT', `/orgs/${otherOrg}/limits`, { credits: 4, concurrency: 3, storage_bytes: 1_048_576 });
  await server.admin('POST', '/faults', { id: 'other-fails', match: { org: otherOrg, operation: 'record.get' }, action: { error: 'INTERNAL_ERROR' }, times: 3 });
  await server.admin('POST', '/faults', { id: 'used-up', match: { operation: 'users.get' }, action: { delay_ms: 1 }, times: 1 });
  await server.admin('POST', '/faults', {
    id: 'pets-drop',
    match: { method: 'DELETE', module: 'Pets' },
    action: { reset: 'before_headers' },
    probability: 0.5,
    until: '2099-01-01T00:00:00.000Z',
  });
  await server.admin('POST', '/faults', { id: 'sal-slow', match: { token: salToken }, action: { delay_ms: [1, 3] } });
  // One firing of the three, and the one-time rule's only firing.
  expectZohoError(await server.api('GET', `/crm/v8/Contacts/${otherRecord}`, { token: otherToken }), { status: 500, code: 'INTERNAL_ERROR' });
  expect((await server.api('GET', '/crm/v8/users?type=AllUsers')).status).toBe(200);
  const faults = (await server.admin('GET', '/faults')).faults;
  expect(faults.find((f: any) => f.id === 'other-fails')).toMatchObject({ times_left: 2, fired: 1 });
  expect(faults.find((f: any) => f.id === 'used-up')).toMatchObject({ times_left: 0, fired: 1 });
}

describe('export → reset → import → export', () => {
  it('gives the same document, and the restored state works as the original did', async () => {
    const s = await buildState();
    const first = await server.admin('GET', '/export');
    expect(first.version).toBe(1);
    expect(first.orgs).toHaveLength(2);
    const text = JSON.stringify(first);
    // Only hashes of what the server keeps as hashes.
    expect(text).not.toContain(server.devToken);
    expect(text).not.toContain(s.client.client_secret);
    expect(text).not.toContain(s.refreshToken);
    expect(text).not.toContain(s.salToken);
    // Limits as they were set; rules with the firings they have left, the spent one left out.
    expect(first.orgs.find((o: any) => o.id === server.orgId).limits).toEqual({ edition: 'professional', users: 3, token_limits: false });
    expect(first.orgs.find((o: any) => o.id === s.other.id).limits).toEqual({ credits: 4, concurrency: 3, storage_bytes: 1_048_576 });
    expect(first.faults.map((f: any) => f.id)).toEqual(['other-fails', 'pets-drop', 'sal-slow']);
    expect(first.faults[0]).toMatchObject({ match: { org: s.other.id, operation: 'record.get' }, action: { error: 'INTERNAL_ERROR' }, times: 2 });
    expect(first.faults[1]).toMatchObject({ probability: 0.5, until: '2099-01-01T00:00:00.000Z', action: { reset: 'before_headers' } });
    expect(first.faults[2].match).toEqual({ token_id: expect.any(String) });

    await server.admin('POST', '/reset');
    expect((await server.admin('GET', '/orgs')).orgs).toEqual([]);
    expect((await server.api('GET', '/crm/v8/org')).status).toBe(401);
    expect(await server.blobFiles()).toEqual([]);

    const report = await server.admin('POST', '/seed', first);
    expect(report.tokens).toEqual([]);
    expect(report.client_secrets).toEqual([]);
    const second = await server.admin('GET', '/export');
    expect(second).toEqual(first);

    // The same tokens work, with the same rights.
    expect((await server.api('GET', '/crm/v8/org')).json.org[0].id).toBe(server.orgId);
    expect((await server.api('GET', '/crm/v8/Pets/1', { token: s.salToken })).json.code).toBe('OAUTH_SCOPE_MISMATCH');
    // The photo and the attachment, byte for byte.
    const photo = await server.api('GET', `/crm/v8/Leads/${s.withPhoto}/photo`);
    expect(photo.status).toBe(200);
    expect(photo.body.equals(s.photo)).toBe(true);
    const list = await server.api('GET', `/crm/v8/Leads/${s.withPhoto}/Attachments?fields=File_Name,$link_url`);
    const fileAtt = list.json.data.find((a: any) => a.File_Name === 'notes.txt');
    expect((await server.api('GET', `/crm/v8/Leads/${s.withPhoto}/Attachments/${fileAtt.id}`)).text).toBe('attachment bytes');
    // The client secret and the refresh token, restored from their hashes, still mint tokens.
    const refreshed = await tokenCall({ grant_type: 'refresh_token', client_id: s.client.client_id, client_secret: s.client.client_secret, refresh_token: s.refreshToken });
    expect(refreshed.access_token).toMatch(/^1000\./);
    expect((await server.api('GET', `/crm/v8/Leads/${s.withPhoto}`, { token: refreshed.access_token })).status).toBe(200);
    // The inactive user stays inactive; the second org keeps its time zone.
    const users = (await server.admin('GET', `/orgs/${server.orgId}/users`)).users;
    expect(users.find((u: any) => u.email === 'gone@example.test').status).toBe('inactive');
    expect((await server.admin('GET', '/orgs')).orgs.find((o: any) => o.id === s.other.id).time_zone).toBe('Asia/Kolkata');

    // The restored rule fires its two firings left, then stops; the restored credit limit refuses the fifth call.
    const otherLimits = await server.admin('GET', `/orgs/${s.other.id}/limits`);
    expect(otherLimits).toMatchObject({ source: 'org', effective: { credits: 4, concurrency: 3, storage_bytes: 1_048_576 }, usage: { credits_used: 0 } });
    const otherGet = () => server.api('GET', `/crm/v8/Contacts/${s.otherRecord}`, { token: s.other.adminToken });
    expectZohoError(await otherGet(), { status: 500, code: 'INTERNAL_ERROR' });
    expectZohoError(await otherGet(), { status: 500, code: 'INTERNAL_ERROR' });
    expect((await otherGet()).status).toBe(200);
    expect((await otherGet()).status).toBe(200);
    expectZohoError(await otherGet(), { status: 429, code: 'TOO_MANY_REQUESTS' });
    const restored = (await server.admin('GET', '/faults')).faults;
    // The token rule names Sal's token (restored from its hash): it fired on Sal's one call above, on no other.
    expect(restored.map((f: any) => [f.id, f.times_left, f.fired])).toEqual([
      ['other-fails', 0, 2],
      ['pets-drop', null, 0],
      ['sal-slow', null, 1],
    ]);
    const mine = await server.admin('GET', `/orgs/${server.orgId}/limits`);
    expect(mine).toMatchObject({ source: 'org', settings: { edition: 'professional', users: 3, token_limits: false }, effective: { concurrency: 15, token_limits: false } });
  });

  it('re-importing into the same state changes nothing', async () => {
    const doc = await server.admin('GET', '/export');
    const report = await server.admin('POST', '/seed', doc);
    expect(report.created).toBe(0);
    expect(await server.admin('GET', '/export')).toEqual(doc);
  });

  it('without media: no photos and no file attachments, links kept', async () => {
    const doc = await server.admin('GET', '/export?media=false');
    const records = doc.orgs.flatMap((o: any) => o.records);
    expect(records.some((r: any) => r.photo)).toBe(false);
    expect(records.flatMap((r: any) => r.attachments).every((a: any) => a.link_url && a.content_base64 === undefined)).toBe(true);
    const res = await http('GET', `${server.adminUrl}/_admin/export?media=maybe`, { headers: { 'x-admin-key': KEY } });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
  });

  it('is offered as a file download', async () => {
    const res = await http('GET', `${server.adminUrl}/_admin/export`, { headers: { 'x-admin-key': KEY } });
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="crm-media-seed-[\d-]+\.json"$/);
  });
});

describe('hand-written seeds with media', () => {
  const base = (records: unknown[]) => ({
    orgs: [
      {
        name: `media-${Math.random().toString(16).slice(2)}`,
        users: [{ name: 'Ann', email: 'ann@example.test', profile: 'Administrator' }],
        records,
      },
    ],
  });

  it('stores a photo read from its bytes and attachments of both kinds', async () => {
    const image = gif(9, 4);
    const report = await server.admin(
      'POST',
      '/seed',
      base([
        {
          id: '4150868000000777001',
          module: 'Leads',
          owner: 'ann@example.test',
          data: { Last_Name: 'Seeded' },
          photo: { file_name: 'p.gif', content_base64: image.toString('base64') },
          attachments: [
            { file_name: 'a.txt', content_base64: Buffer.from('hello').toString('base64') },
            { file_name: 'Site', link_url: 'https://example.test/' },
          ],
        },
      ]),
    );
    const org = report.orgs[0].id;
    const detail = await server.admin('GET', `/orgs/${org}/records/4150868000000777001`);
    expect(detail.photo).toMatchObject({ file_name: 'p.gif', content_type: 'image/gif', width: 9, height: 4, size: image.length });
    expect(detail.attachments.map((a: any) => [a.kind, a.file_name, a.content_type, a.size]).sort()).toEqual([
      ['file', 'a.txt', 'text/plain', 5],
      ['link', 'Site', null, 0],
    ]);
  });

  it.each([
    ['a photo that is not an image', { photo: { file_name: 'x.png', content_base64: Buffer.from('<svg/>').toString('base64') } }],
    ['an attachment with neither bytes nor link', { attachments: [{ file_name: 'x' }] }],
    ['an attachment with both', { attachments: [{ file_name: 'x', link_url: 'https://e.test/', content_base64: 'aGk=' }] }],
    ['a link that is not http(s)', { attachments: [{ file_name: 'x', link_url: 'ftp://e.test/' }] }],
  ])('refuses %s, and leaves nothing behind (no org, no bytes)', async (_what, extra) => {
    const blobsBefore = await server.blobFiles();
    const orgsBefore = (await server.admin('GET', '/orgs')).orgs.length;
    const doc = base([
      { module: 'Leads', data: { Last_Name: 'Fine' }, photo: { file_name: 'ok.png', content_base64: png(2, 2).toString('base64') } },
      { module: 'Leads', data: { Last_Name: 'Bad' }, ...extra },
    ]);
    const res = await http('POST', `${server.adminUrl}/_admin/seed`, { headers: { 'x-admin-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
    expect((await server.admin('GET', '/orgs')).orgs.length).toBe(orgsBefore);
    expect(await server.blobFiles()).toEqual(blobsBefore);
  });

  it('refuses a value and a hash for the same token', async () => {
    const doc = { orgs: [{ id: server.orgId, name: 'x', tokens: [{ user: 'admin@crm-media.local', value: 'abc.def', token_hash: 'a'.repeat(64) }] }] };
    const res = await http('POST', `${server.adminUrl}/_admin/seed`, { headers: { 'x-admin-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expectZohoError(res, { status: 400, code: 'INVALID_DATA' });
  });

  it('mints a client secret when the seed gives none, and reports it once', async () => {
    const report = await server.admin('POST', '/seed', { orgs: [{ id: server.orgId, name: 'x', oauth_clients: [{ name: 'Minted', user: 'admin@crm-media.local' }] }] });
    expect(report.client_secrets).toHaveLength(1);
    const { client_id, secret } = report.client_secrets[0];
    const code = await server.admin('POST', `/orgs/${server.orgId}/oauth-clients/${client_id}/grant-codes`, { scopes: 'ZohoCRM.modules.ALL' });
    const answer = await tokenCall({ grant_type: 'authorization_code', client_id, client_secret: secret, code: code.code });
    expect(answer.access_token).toMatch(/^1000\./);
  });
});
