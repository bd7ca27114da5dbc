// Exits 0 when PostgreSQL answers at CRM_MEDIA_TEST_PG_URL within 5 s, else prints why and exits 1.
import pg from 'pg';

const url = process.env.CRM_MEDIA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
try {
  await client.connect();
  await client.query('select 1');
  await client.end();
  process.exit(0);
} catch (err) {
  process.stdout.write(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
