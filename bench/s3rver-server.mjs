#!/usr/bin/env node
/**
 * s3rver in its own process (so the orchestrator can pin it with crm-media and measure its CPU), with one empty
 * bucket.   node bench/s3rver-server.mjs --dir DIR   → prints one JSON line {"endpoint":…,"bucket":…}
 */
import { mkdir } from 'node:fs/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

const args = process.argv.slice(2);
const dir = args[args.indexOf('--dir') + 1];
const bucket = 'crm-media-bench';
await mkdir(dir, { recursive: true });
const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
const { port } = await server.run();
const endpoint = `http://127.0.0.1:${port}`;
const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
await client.send(new CreateBucketCommand({ Bucket: bucket }));
client.destroy();
process.stdout.write(`S3READY ${JSON.stringify({ endpoint, bucket })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
