// 16 concurrent 8 MiB attachment uploads to a running crm-media for N seconds, then deletes what it added.
// usage: node bench/idle-gc/attachments-c16.mjs ORIGIN SECONDS  (the server must run with CRM_MEDIA_DEV_TOKEN=tok)
import { Client } from 'undici';
const origin = process.argv[2] ?? 'http://127.0.0.1:8899';
if (new URL(origin).hostname !== '127.0.0.1') {
  console.error(`refusing ${origin}: only 127.0.0.1`);
  process.exit(2);
}
const seconds = Number(process.argv[3] ?? 6);
const auth = { authorization: 'Zoho-oauthtoken tok' };
const client = new Client(origin, { pipelining: 1, connections: 16 });
const r0 = await client.request({ path: '/crm/v8/Leads', method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'x' }] }) });
const rec = (await r0.body.json()).data[0].details.id;
const b = 'xxBOUNDARYxx';
const data = Buffer.alloc(8 * 1024 * 1024, 3);
const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`), data, Buffer.from(`\r\n--${b}--\r\n`)]);
const ids = [];
const end = Date.now() + seconds * 1000;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (Date.now() < end) {
    const r = await client.request({ path: `/crm/v8/Leads/${rec}/Attachments`, method: 'POST', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${b}` }, body });
    ids.push((await r.body.json()).data[0].details.id);
  }
}));
for (const id of ids) await (await client.request({ path: `/crm/v8/Leads/${rec}/Attachments/${id}`, method: 'DELETE', headers: auth })).body.dump();
console.log(`att uploads ${ids.length}`);
await client.close();
