// Sequential (c=1) 1 MiB photo uploads against a running crm-media for N seconds; prints req/s and latencies.
// usage: node bench/idle-gc/upload-c1.mjs ORIGIN SECONDS  (the server must run with CRM_MEDIA_DEV_TOKEN=tok)
import { Client } from 'undici';
import { photoVariants } from '../lib/images.mjs';
const origin = process.argv[2] ?? 'http://127.0.0.1:8899';
if (new URL(origin).hostname !== '127.0.0.1') {
  console.error(`refusing ${origin}: only 127.0.0.1`);
  process.exit(2);
}
const seconds = Number(process.argv[3] ?? 10);
const tok = 'tok';
const client = new Client(origin, { pipelining: 1 });
const auth = { authorization: `Zoho-oauthtoken ${tok}` };
const ids = [];
for (let i = 0; i < 4; i++) {
  const r = await client.request({ path: '/crm/v8/Leads', method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'x' }] }) });
  ids.push((await r.body.json()).data[0].details.id);
}
const imgs = photoVariants(1024 * 1024, 3);
const b = 'xxBOUNDARYxx';
const bodies = imgs.map((img) => Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n`), img, Buffer.from(`\r\n--${b}--\r\n`)]));
const lat = [];
const end = Date.now() + seconds * 1000;
let i = 0;
while (Date.now() < end) {
  const t = process.hrtime.bigint();
  const r = await client.request({ path: `/crm/v8/Leads/${ids[i % 4]}/photo`, method: 'POST', headers: { ...auth, 'content-type': `multipart/form-data; boundary=${b}` }, body: bodies[i % 3] });
  await r.body.dump();
  if (r.statusCode !== 200) throw new Error(String(r.statusCode));
  lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  i++;
}
lat.sort((a, c) => a - c);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
const slow = lat.filter((x) => x > 20).length;
console.log(`n=${lat.length} req/s=${(lat.length / seconds).toFixed(0)} p50=${q(0.5)} p90=${q(0.9)} p99=${q(0.99)} max=${q(1)} >20ms=${slow} sum>20ms=${lat.filter((x) => x > 20).reduce((a, c) => a + c, 0).toFixed(0)}ms`);
await client.close();
