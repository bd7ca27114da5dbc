export default async function globalTeardown() {
  await globalThis.__CRM_MEDIA__?.stop();
}
