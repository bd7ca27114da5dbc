/**
 * The backend a test server runs on, chosen per vitest project (vitest.config.ts): `sqlite-disk` (the embedded
 * default) or `postgres-s3` (a fresh PostgreSQL database and a fresh bucket, both made here and removed at the end).
 * The bucket is on the run's radosgw (a real object store, test/support/ceph/) or, for a quick local run without
 * it, on an s3rver started here (test/support/ceph/global-setup.ts decides). The same integration tests run on
 * both backends, so the rules cannot differ between them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import S3rver from 's3rver';
import { inject } from 'vitest';
import type { ConfigInput } from '../../src/config.js';
import type { S3StoreInfo } from '../support/ceph/global-setup.js';

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
  /** The bucket (postgres-s3 only). */
  s3?: TestBucket;
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

const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The S3 store of this run (the project's global setup provides it; s3rver where none ran). */
export function testS3Store(): S3StoreInfo {
  return inject('s3Store') ?? { kind: 's3rver', why: 'this vitest project starts no radosgw' };
}

/** True when the tests talk to a real S3 store (radosgw), which implements every call the maintenance code uses. */
export const realS3 = (): boolean => testS3Store().kind === 'radosgw';

export interface TestBucket {
  kind: S3StoreInfo['kind'];
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client for the bucket (path style, the server's checksum settings); destroyed by stop(). */
  client: S3Client;
  /** Empties and removes the bucket (radosgw) or stops the s3rver. */
  stop(): Promise<void>;
}

function s3Client(endpoint: string, credentials: TestBucket['credentials']): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Removes every object and unfinished upload, then the bucket. Bounded: each listing page is emptied before the next. */
async function removeBucket(client: S3Client, Bucket: string): Promise<void> {
  for (let page = 0; page < 10_000; page++) {
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket }));
    const objects = await client.send(new ListObjectsV2Command({ Bucket }));
    if (!uploads.Uploads?.length && !objects.Contents?.length) break;
    for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key!, UploadId: u.UploadId! }));
    const keys = (objects.Contents ?? []).map((o) => o.Key!);
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((Key) => client.send(new DeleteObjectCommand({ Bucket, Key }))));
    }
  }
  await client.send(new DeleteBucketCommand({ Bucket }));
}

/** A new, empty bucket on the run's S3 store (an s3rver on a random loopback port in `dir` when that is s3rver). */
export async function startS3(dir: string): Promise<TestBucket> {
  const store = testS3Store();
  const bucket = `media-${randomBytes(6).toString('hex')}`;
  if (store.kind === 'radosgw') {
    const credentials = { accessKeyId: store.accessKeyId, secretAccessKey: store.secretAccessKey };
    const client = s3Client(store.endpoint, credentials);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    return {
      kind: store.kind,
      endpoint: store.endpoint,
      bucket,
      credentials,
      client,
      async stop() {
        try {
          await removeBucket(client, bucket);
        } finally {
          client.destroy();
        }
      },
    };
  }
  await mkdir(dir, { recursive: true });
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = s3Client(endpoint, S3RVER_CREDENTIALS);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    client.destroy();
    await server.close();
    throw err;
  }
  return {
    kind: 's3rver',
    endpoint,
    bucket,
    credentials: S3RVER_CREDENTIALS,
    client,
    async stop() {
      client.destroy();
      await server.close();
    },
  };
}

export async function prepareBackend(dataDir: string, name: BackendName = backendName()): Promise<PreparedBackend> {
  if (name === 'sqlite-disk') return { name, overrides: {}, env: {}, teardown: async () => {} };
  const db = await createTestDatabase();
  let s3;
  try {
    s3 = await startS3(join(dataDir, 's3rver'));
  } catch (err) {
    await db.drop();
    throw err;
  }
  // The AWS SDK's default credential chain reads these, in this process and in child processes.
  process.env['AWS_ACCESS_KEY_ID'] = s3.credentials.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = s3.credentials.secretAccessKey;
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
    s3,
    env: {
      DATABASE_URL: db.url,
      CRM_MEDIA_BLOB_STORE: 's3',
      CRM_MEDIA_S3_BUCKET: s3.bucket,
      CRM_MEDIA_S3_ENDPOINT: s3.endpoint,
      CRM_MEDIA_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    },
    async teardown() {
      await s3.stop().catch(() => {});
      await db.drop();
    },
  };
}
