/**
 * The backend a test server runs on, chosen per vitest project (vitest.config.ts): `sqlite-disk` (the embedded
 * default) or `postgres-s3` (a fresh PostgreSQL database and a fresh s3rver bucket on loopback, both made here and
 * removed at the end). The same integration tests run on both, so the rules cannot differ between backends.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import S3rver from 's3rver';
import type { ConfigInput } from '../../src/config.js';

export type BackendName = 'sqlite-disk' | 'postgres-s3';

export function backendName(): BackendName {
  return process.env['CRM_MEDIA_TEST_BACKEND'] === 'postgres-s3' ? 'postgres-s3' : 'sqlite-disk';
}

export const PG_ADMIN_URL = process.env['CRM_MEDIA_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PreparedBackend {
  name: BackendName;
  overrides: ConfigInput;
  /** Environment for a server started as a child process on this backend. */
  env: Record<string, string>;
  teardown(): Promise<void>;
}

/** A new, empty PostgreSQL database; returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `crm_media_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An s3rver on a random loopback port with one empty bucket. */
export async function startS3(dir: string): Promise<{ endpoint: string; bucket: string; stop(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const bucket = `media-${randomBytes(4).toString('hex')}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return { endpoint, bucket, stop: () => server.close() };
}

export async function prepareBackend(dataDir: string, name: BackendName = backendName()): Promise<PreparedBackend> {
  if (name === 'sqlite-disk') return { name, overrides: {}, env: {}, teardown: async () => {} };
  // The AWS SDK's default credential chain reads these, in this process and in child processes.
  process.env['AWS_ACCESS_KEY_ID'] = S3_CREDENTIALS.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = S3_CREDENTIALS.secretAccessKey;
  const db = await createTestDatabase();
  let s3;
  try {
    s3 = await startS3(join(dataDir, 's3rver'));
  } catch (err) {
    await db.drop();
    throw err;
  }
  const overrides: ConfigInput = {
    database: db.url,
    blobStore: 's3',
    s3Bucket: s3.bucket,
    s3Endpoint: s3.endpoint,
    s3ForcePathStyle: true,
  };
  return {
    name,
    overrides,
    env: {
      DATABASE_URL: db.url,
      CRM_MEDIA_BLOB_STORE: 's3',
      CRM_MEDIA_S3_BUCKET: s3.bucket,
      CRM_MEDIA_S3_ENDPOINT: s3.endpoint,
      CRM_MEDIA_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    },
    async teardown() {
      await s3.stop().catch(() => {});
      await db.drop();
    },
  };
}
