/**
 * vitest global setup of the projects that use an S3 store (`s3`, `postgres-s3`): which store the tests talk to.
 *
 * - radosgw (Ceph's S3 gateway, a real object store; test/support/ceph/rgw.mjs) when its Debian packages are
 *   installed (`bash bench/setup.sh ceph`, as .ci/run does). One cluster serves the whole run, shared by the
 *   projects; every test server gets its own bucket. Required when CI=true or CRM_MEDIA_TEST_S3=radosgw.
 * - s3rver (an npm mock the tests start per server) otherwise, or with CRM_MEDIA_TEST_S3=s3rver: a quick local
 *   run. s3rver lacks calls the maintenance code depends on (ListMultipartUploads, AbortMultipartUpload, listings
 *   past 1,000 keys), so the tests of those are skipped there, loudly.
 *
 * Tests read the choice with `inject('s3Store')` (test/helpers/backend.ts).
 */
import type { TestProject } from 'vitest/node';
import { type RadosgwInfo, radosgwInstalled, startRadosgw } from './rgw.mjs';

export type S3StoreInfo =
  | { kind: 'radosgw'; endpoint: string; accessKeyId: string; secretAccessKey: string; region: string }
  | { kind: 's3rver'; why: string };

declare module 'vitest' {
  export interface ProvidedContext {
    s3Store: S3StoreInfo;
  }
}

/** One cluster per vitest process, whichever projects ask for it (their setups share this module's state). */
interface Shared {
  users: number;
  cluster?: Promise<RadosgwInfo & { stop(): Promise<void> }>;
  told?: boolean;
}
const shared: Shared = ((globalThis as { __crmMediaRadosgw?: Shared }).__crmMediaRadosgw ??= { users: 0 });

function choose(): { use: 'radosgw' | 's3rver'; why: string } {
  const asked = process.env['CRM_MEDIA_TEST_S3'];
  const ci = ['1', 'true'].includes((process.env['CI'] ?? '').toLowerCase());
  if (asked === 's3rver') return { use: 's3rver', why: 'CRM_MEDIA_TEST_S3=s3rver' };
  const installed = radosgwInstalled();
  if (installed.ok) return { use: 'radosgw', why: '' };
  if (asked === 'radosgw' || ci) {
    throw new Error(`radosgw is required (${asked === 'radosgw' ? 'CRM_MEDIA_TEST_S3=radosgw' : 'CI=true'}) but ${installed.why}`);
  }
  return { use: 's3rver', why: installed.why };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const choice = choose();
  if (choice.use === 's3rver') {
    if (!shared.told) {
      shared.told = true;
      process.stderr.write(
        `\n*** S3 tests run against s3rver (${choice.why}); the tests of multipart-upload sweeps and listings past 1,000 keys are SKIPPED.\n    Install radosgw (bash bench/setup.sh ceph) for the full suite.\n\n`,
      );
    }
    project.provide('s3Store', { kind: 's3rver', why: choice.why });
    return async () => {};
  }
  shared.users++;
  // Objects live in the OSD's memory (about 2.5× their size); buckets are emptied as test servers stop.
  shared.cluster ??= startRadosgw({ owner: process.pid, memstoreBytes: 4 * 1024 ** 3 });
  let cluster;
  try {
    cluster = await shared.cluster;
  } catch (err) {
    shared.users--;
    throw err;
  }
  project.provide('s3Store', {
    kind: 'radosgw',
    endpoint: cluster.endpoint,
    accessKeyId: cluster.accessKeyId,
    secretAccessKey: cluster.secretAccessKey,
    region: cluster.region,
  });
  return async () => {
    if (--shared.users > 0) return;
    shared.cluster = undefined;
    await cluster.stop();
  };
}
