/**
 * What Zoho's documentation shows and the server did not do before (docs/compatibility.md): the INVALID_MODULE that a
 * profile without a module's tab permission gets, and the headers of Zoho's JSON answers (docs/zoho-api.md §11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { TestServer, http } from '../helpers/server.js';
import { expectZohoError } from '../helpers/zoho.js';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.stop();
});

const ALL = { view: true, create: true, edit: true, delete: true };
const INVALID_MODULE = { status: 400, code: 'INVALID_MODULE', message: 'the module name given seems to be invalid', details: { resource_path_index: 0 } };

describe('tab permission', () => {
  it('a module hidden from the profile is an invalid module on every endpoint, before scope and permission', async () => {
    const hidden = await server.createUser({ permissions: { '*': ALL, Leads: { ...ALL, tab: false } } });
    const narrow = await server.createUser({ permissions: { '*': ALL, Leads: { ...ALL, tab: false } }, scopes: 'ZohoCRM.modules.contacts.ALL' });
    const lead = await server.createRecord('Leads');
    const contact = await server.createRecord('Contacts');
    const photo = filePart(png(8, 8), 'p.png', 'image/png');
    const calls: [string, string, Parameters<TestServer['api']>[2]][] = [
      ['GET', `/crm/v8/Leads/${lead}/photo`, {}],
      ['POST', `/crm/v8/leads/${lead}/photo`, { headers: { 'content-type': photo.contentType }, body: photo.body }],
      ['GET', `/crm/v8/Leads/${lead}/Attachments?fields=id`, {}],
      ['POST', `/crm/v8/Leads/${lead}/Attachments?attachmentUrl=https://example.test`, {}],
      ['GET', `/crm/v8/Leads/${lead}`, {}],
      ['POST', '/crm/v8/Leads', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'x' }] }) }],
    ];
    for (const [method, path, opts] of calls) {
      expectZohoError(await server.api(method, path, { ...opts, token: hidden.token }), INVALID_MODULE);
    }
    // Before the scope: a token without any Leads scope hears of the module, not of its scope.
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${lead}/photo`, { token: narrow.token }), INVALID_MODULE);
    expect((await server.api('GET', `/crm/v8/Contacts/${contact}/photo`, { token: hidden.token })).status).toBe(204);
  });

  it('a default without tabs hides every module not shown by name; administrators see every module', async () => {
    const only = await server.createUser({ permissions: { '*': { ...ALL, tab: false }, Contacts: ALL } });
    const admin = await server.createUser({ admin: true, permissions: { '*': { ...ALL, tab: false } } });
    const lead = await server.createRecord('Leads');
    const contact = await server.createRecord('Contacts');
    expectZohoError(await server.api('GET', `/crm/v8/Leads/${lead}/photo`, { token: only.token }), INVALID_MODULE);
    expect((await server.api('GET', `/crm/v8/Contacts/${contact}/photo`, { token: only.token })).status).toBe(204);
    expect((await server.api('GET', `/crm/v8/Leads/${lead}/photo`, { token: admin.token })).status).toBe(204);
  });

  it('the profile keeps its tab setting in the admin API', async () => {
    const p = await server.admin('POST', `/orgs/${server.orgId}/profiles`, { name: 'No leads tab', permissions: { Leads: { view: true, tab: false } } });
    expect(p.permissions.Leads).toMatchObject({ view: true, tab: false });
  });
});

describe('headers of JSON answers', () => {
  const ZOHO_JSON = {
    'content-type': 'application/json;charset=UTF-8',
    'content-disposition': 'attachment; filename=response.json',
    'cache-control': 'no-store, no-cache, must-revalidate, private',
    pragma: 'no-cache',
    expires: 'Thu, 01 Jan 1970 00:00:00 GMT',
  };

  it.each([
    ['a success', () => server.api('GET', '/crm/v8/org')],
    ['a Zoho error', () => server.api('GET', '/crm/v8/Leads/1/photo')],
    ['an authentication failure', () => server.api('GET', '/crm/v8/org', { token: null })],
    ['an unknown path under /crm/', () => server.api('GET', '/crm/v8/Leads/1/2/3/4')],
  ])('%s carries Zoho\'s headers', async (_what, call) => {
    const res = await call();
    expect(res.headers).toMatchObject(ZOHO_JSON);
  });

  it('downloads keep their own headers; the admin API, health and the token endpoint keep plain JSON', async () => {
    const record = await server.createRecord();
    const image = png(9, 9);
    const body = filePart(image, 'face.png', 'image/png');
    await server.api('POST', `/crm/v8/Leads/${record}/photo`, { headers: { 'content-type': body.contentType }, body: body.body });
    const download = await server.api('GET', `/crm/v8/Leads/${record}/photo`);
    expect(download.headers['content-disposition']).toBe('attachment; filename="face.png"');
    expect(download.headers['cache-control']).toBeUndefined();
    for (const res of [await http('GET', `${server.url}/healthz`), await http('POST', `${server.url}/oauth/v2/token`), await http('GET', `${server.url}/_admin/orgs`)]) {
      expect(res.headers['content-disposition']).toBeUndefined();
      expect(res.headers['cache-control']).toBeUndefined();
    }
  });
});
