import { expect, inject, test } from 'vitest';

const { url, token } = inject('crmMedia');
const auth = { Authorization: `Zoho-oauthtoken ${token}` };

test('a record without a photo answers Zoho-style', async () => {
  const created = await fetch(`${url}/crm/v8/Leads`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: [{ Last_Name: 'Boyle' }] }),
  }).then((r) => r.json());
  const id = created.data[0].details.id;
  const photo = await fetch(`${url}/crm/v8/Leads/${id}/photo`, { headers: auth });
  expect(photo.status).toBe(204);
});

test('a wrong token is refused', async () => {
  const r = await fetch(`${url}/crm/v8/Leads/1/photo`, { headers: { Authorization: 'Zoho-oauthtoken 1000.wrong.wrong' } });
  expect(r.status).toBe(401);
  expect((await r.json()).code).toBe('INVALID_TOKEN');
});
