// jest globalSetup / globalTeardown (jest.config: { globalSetup: './global-setup.mjs', globalTeardown:
// './global-teardown.mjs' }). globalSetup runs in jest's parent process: the server lives there, and the tests read
// its URL and token from the environment, which the test workers inherit.
import { startCrmMedia } from 'crm-media-server';

export default async function globalSetup() {
  const srv = await startCrmMedia({ inMemory: true });
  globalThis.__CRM_MEDIA__ = srv;
  process.env.CRM_MEDIA_URL = srv.url;
  process.env.CRM_MEDIA_TOKEN = srv.token;
}
