// A plain Node script against an in-memory crm-media-server: start, make a record, upload and download its photo,
// stop. Run it with `node node-script.mjs` in a project where `npm i -D crm-media-server` ran.
import { startCrmMedia } from 'crm-media-server';

// The smallest valid PNG (1×1 pixel).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const srv = await startCrmMedia({ inMemory: true });
try {
  const auth = { Authorization: `Zoho-oauthtoken ${srv.token}` };
  const created = await fetch(`${srv.url}/crm/v8/Leads`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: [{ Last_Name: 'Boyle', Company: 'Zylker' }] }),
  }).then((r) => r.json());
  const recordId = created.data[0].details.id;

  const form = new FormData();
  form.append('file', new Blob([PNG], { type: 'image/png' }), 'img1.png');
  const upload = await fetch(`${srv.url}/crm/v8/Leads/${recordId}/photo`, { method: 'POST', headers: auth, body: form });
  console.log('upload:', upload.status, await upload.text());

  const photo = await fetch(`${srv.url}/crm/v8/Leads/${recordId}/photo`, { headers: auth });
  const bytes = Buffer.from(await photo.arrayBuffer());
  console.log('download:', photo.status, photo.headers.get('content-type'), bytes.equals(PNG) ? 'same bytes' : 'DIFFERENT bytes');
} finally {
  await srv.stop();
}
