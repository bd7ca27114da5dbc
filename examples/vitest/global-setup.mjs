// vitest globalSetup: one in-memory crm-media-server for the whole run; tests get its URL and token with inject().
import { startCrmMedia } from 'crm-media-server';

/** @param {import('vitest/node').TestProject} project */
export default async function setup(project) {
  const srv = await startCrmMedia({
    inMemory: true,
    seed: { orgs: [{ name: 'Acme', users: [{ name: 'Patricia Boyle', email: 'patricia@acme.test', profile: 'Administrator' }] }] },
  });
  project.provide('crmMedia', { url: srv.url, token: srv.token, adminKey: srv.adminKey });
  return () => srv.stop();
}
