/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Code passed to page.evaluate runs in the browser: DOM types for it.
/**
 * The web console in a real browser (Debian's Chromium, driven by playwright-core): a person's walk through it —
 * a wrong key then the right one, a record made, a photo uploaded and seen as a thumbnail, an attachment dropped in
 * and downloaded, the record locked and the API refusing the next upload, a token issued and used, those requests in
 * the journal, the state exported, reset and re-imported; limits set until the API runs out of credits, a fault rule
 * added by keyboard alone and met by the API, the test clock moved; an expired session; a forged cross-site form;
 * keyboard use and a phone-sized window; axe-core finding no serious accessibility violation.
 *
 * Chromium comes from `apt-get install chromium` (.ci/run does it). Without it the file is skipped, loudly, except
 * under CI=true, where that is a failure. `CRM_MEDIA_SCREENSHOTS=1` also writes the README's screenshots to
 * docs/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png, rgbPng } from '../helpers/images.js';
import { filePart } from '../helpers/multipart.js';
import { type Browser, axeViolations, buildConsole, chromiumPath, launchBrowser } from '../helpers/browser.js';
import { TestServer, http } from '../helpers/server.js';

const BACKEND = process.env['CRM_MEDIA_TEST_BACKEND'] ?? 'sqlite-disk';
const CI = ['1', 'true'].includes((process.env['CI'] ?? '').toLowerCase());
const CHROMIUM = chromiumPath();
const SCREENSHOTS = process.env['CRM_MEDIA_SCREENSHOTS'] === '1';
const KEY = 'test-admin-key-0123456789';
if (BACKEND === 'sqlite-disk' && !CHROMIUM) {
  if (CI) throw new Error('chromium is missing: .ci/run installs it (apt-get install chromium); under CI=true this is a failure');
  process.stderr.write('\n*** chromium is not installed: console-browser.test.ts is SKIPPED (apt-get install chromium)\n\n');
}

let server: TestServer;
let browser: Browser;
let page: Page;

async function screenshot(p: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await p.screenshot({ path: join('docs/screenshots', `${name}.png`), fullPage: false });
}

async function expectAccessible(p: Page, where: string): Promise<void> {
  const serious = (await axeViolations(p)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious, `${where}: ${JSON.stringify(serious, null, 1)}`).toEqual([]);
}

async function logIn(p: Page, url: string, key = KEY): Promise<void> {
  await p.goto(`${url}/_console/`);
  await p.getByLabel('Admin key').fill(key);
  await p.getByRole('button', { name: 'Log in' }).click();
}

const run = BACKEND === 'sqlite-disk' && CHROMIUM !== undefined;

/** A gradient: the thumbnail shows something a person recognises. */
const PHOTO = rgbPng(160, 120, (x, y) => [Math.round((255 * x) / 160), Math.round((255 * y) / 120), 200]);

describe.skipIf(!run)('the console in Chromium', () => {
  beforeAll(async () => {
    await buildConsole();
    server = await TestServer.start();
    browser = await launchBrowser(CHROMIUM!);
    page = await browser.context.newPage();
    // Confirmation dialogs (reset, delete) are accepted, as a person who meant it would.
    page.on('dialog', (d) => void d.accept());
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('refuses a wrong key, then logs in with an HttpOnly, SameSite=Strict session cookie', async () => {
    await logIn(page, server.adminUrl, 'not-the-admin-key-at-all');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not the admin key');
    await expectAccessible(page, 'login');
    await screenshot(page, 'login');
    await page.getByLabel('Admin key').fill(KEY);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Orgs', level: 1 }).waitFor();
    const [cookie] = await browser.context.cookies(server.adminUrl);
    expect(cookie).toMatchObject({ name: 'crm_media_console', httpOnly: true, sameSite: 'Strict', path: '/' });
    // The key is nowhere in the page's URL or storage.
    expect(page.url()).not.toContain(KEY);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie)).not.toContain(KEY);
  });

  let recordId: string;

  it('creates a record, uploads a photo and shows its thumbnail', async () => {
    await page.getByRole('link', { name: 'crm-media default org' }).click();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Records' }).click();
    await page.getByRole('heading', { name: 'Records: Leads' }).waitFor();
    await page.getByLabel('Fields (JSON)').fill('{"Last_Name": "Console", "Company": "Zylker"}');
    await page.getByRole('button', { name: 'Create record' }).click();
    await page.getByRole('heading', { name: 'Leads: Console' }).waitFor();
    recordId = /records\/(\d+)/.exec(page.url())![1]!;

    await page.getByLabel('Upload a photo').setInputFiles({ name: 'face.png', mimeType: 'image/png', buffer: PHOTO });
    await page.getByText('Photo face.png uploaded.').waitFor();
    const thumb = page.getByRole('img', { name: /Photo of record/ });
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(160);
    await page.getByText('image/png · 160×120').waitFor();
    // Uploaded through the domain rules: the API serves the same bytes.
    const viaApi = await server.api('GET', `/crm/v8/Leads/${recordId}/photo`);
    expect(viaApi.body.equals(PHOTO)).toBe(true);
  });

  it('takes an attachment by drag and drop, and downloads it', async () => {
    await page.evaluate(() => {
      const zone = Array.from(document.querySelectorAll('.dropzone')).find((z) => z.textContent?.includes('Upload attachments'))!;
      const data = new DataTransfer();
      data.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    await page.getByText('dropped.txt uploaded.').waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'dropped.txt' }).click();
    const file = await (await download).path();
    expect(await readFile(file, 'utf8')).toBe('dropped bytes');
    await expectAccessible(page, 'record');
    await screenshot(page, 'record');
  });

  it('locks the record with one click; the API then refuses the next upload', async () => {
    await page.getByRole('button', { name: /merge in progress/ }).click();
    await page.getByText('State: merge in progress.').waitFor();
    await expect.poll(() => page.getByRole('button', { name: /merge in progress/ }).getAttribute('aria-pressed')).toBe('true');
    const { body, contentType } = filePart(png(5, 5), 'next.png', 'image/png');
    const refused = await server.api('POST', `/crm/v8/Leads/${recordId}/photo`, { headers: { 'content-type': contentType }, body });
    expect(refused.status).toBe(400);
    expect(refused.json.code).toBe('RECORD_LOCKED');
    // The console's own upload meets the same rule.
    await page.getByLabel('Upload a photo').setInputFiles({ name: 'again.png', mimeType: 'image/png', buffer: png(9, 9) });
    await expect.poll(() => page.getByRole('alert').allTextContents()).toContainEqual(expect.stringContaining('RECORD_LOCKED'));
  });

  it('issues a token (shown once) that works against the API, and shows those requests in the journal', async () => {
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'Tokens', level: 1 }).waitFor();
    await page.getByLabel('Label').fill('from the console');
    await page.getByRole('button', { name: 'Issue token' }).click();
    const value = (await page.getByTestId('shown-once').textContent())!.trim();
    expect(value).toMatch(/^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    await expectAccessible(page, 'tokens');
    await screenshot(page, 'tokens');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('shown-once').count()).toBe(0);

    const got = await server.api('GET', `/crm/v8/Leads/${recordId}`, { token: value });
    expect(got.status).toBe(200);
    const { body, contentType } = filePart(png(5, 5), 'x.png', 'image/png');
    expect((await server.api('POST', `/crm/v8/Leads/${recordId}/photo`, { token: value, headers: { 'content-type': contentType }, body })).json.code).toBe('RECORD_LOCKED');

    await page.getByRole('link', { name: 'Request journal' }).click();
    await page.getByLabel('Record id').fill(recordId);
    await page.getByRole('button', { name: 'Apply' }).click();
    // Read as one snapshot, polled: Apply empties the table before the filtered entries arrive.
    const rows = page.locator('table.journal tbody tr');
    let text = '';
    await expect
      .poll(async () => {
        text = (await page.locator('table.journal').textContent()) ?? '';
        return (await rows.count()) >= 3 && text.includes('record.get') && text.includes('RECORD_LOCKED');
      })
      .toBe(true);
    expect(text).not.toContain(value);
    // Live: a request made now shows up without a reload.
    await server.api('GET', `/crm/v8/Leads/${recordId}/Attachments`, { token: value });
    await expect.poll(() => page.locator('table.journal').textContent(), { timeout: 10_000 }).toContain('attachment.list');
    await expectAccessible(page, 'journal');
    await screenshot(page, 'journal');
  });

  it('exports the state, resets it, and re-imports the seed to the same state', async () => {
    await page.getByRole('link', { name: 'Export, import, reset' }).click();
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download seed document' }).click();
    const seedFile = await (await download).path();
    const exported = JSON.parse(await readFile(seedFile, 'utf8'));
    expect(exported).toEqual(await server.admin('GET', '/export'));
    await expectAccessible(page, 'state');
    await screenshot(page, 'state');

    await page.getByRole('button', { name: 'Reset everything' }).click();
    await page.getByText('Everything was deleted.').waitFor();
    expect((await server.admin('GET', '/orgs')).orgs).toEqual([]);

    await page.getByLabel('Import a seed document').setInputFiles(seedFile);
    await page.getByText(/imported\. \d+ created in 1 org/).waitFor();
    expect(await server.admin('GET', '/export')).toEqual(exported);
    // The restored token still works; the restored record is still locked.
    expect((await server.api('GET', `/crm/v8/Leads/${recordId}`)).status).toBe(200);
    expect((await server.admin('GET', `/orgs/${server.orgId}/records/${recordId}`)).state).toBe('merge_in_progress');
  });

  it('shows workflow rules and deliveries with their attempts', async () => {
    await server.admin('POST', `/orgs/${server.orgId}/workflows`, { name: 'To nowhere', module: 'Leads', event: 'attachment_added', url: 'http://127.0.0.1:9/hook' });
    await server.setState(recordId, 'normal');
    const { body, contentType } = filePart('hello', 'hello.txt', 'text/plain');
    expect((await server.api('POST', `/crm/v8/Leads/${recordId}/Attachments`, { headers: { 'content-type': contentType }, body })).status).toBe(200);
    await page.goto(`${server.adminUrl}/_console/#/orgs/${server.orgId}/workflows`);
    await page.getByRole('heading', { name: 'Workflows', level: 1 }).waitFor();
    await page.getByText('To nowhere').first().waitFor();
    await expect.poll(async () => page.locator('.deliveries li').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.locator('.deliveries summary').first().click();
    await page.getByRole('table', { name: /Attempts of delivery/ }).first().waitFor();
    await expectAccessible(page, 'workflows');
    await screenshot(page, 'workflows');
  });

  it('sets an org\'s limits on the Limits & faults page (a refusal shown at its field); the API then runs out of credits', async () => {
    await page.getByRole('link', { name: 'Limits & faults' }).click();
    await page.getByRole('heading', { name: 'Limits & faults', level: 1 }).waitFor();
    expect(page.url()).toContain(`#/limits/${server.orgId}`);
    const form = page.getByRole('form', { name: "The org's own limits" });
    await form.getByLabel(/^Concurrency/).fill('0');
    await form.getByRole('button', { name: 'Save limits' }).click();
    await expect.poll(() => page.getByRole('alert').allTextContents()).toContainEqual(expect.stringContaining('INVALID_DATA'));
    expect(await form.locator('.field', { hasText: 'Concurrency' }).first().locator('.field-problem').textContent()).toMatch(/>=\s*1/);
    expect((await server.admin('GET', `/orgs/${server.orgId}/limits`)).settings).toBeNull();

    await form.getByLabel(/^Concurrency/).fill('');
    await form.getByLabel('Credits per 24 hours').fill('3');
    await form.getByLabel('Storage quota (bytes)').fill('1048576');
    await form.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits of crm-media default org saved.').waitFor();
    const set = await server.admin('GET', `/orgs/${server.orgId}/limits`);
    expect(set).toMatchObject({ source: 'org', settings: { credits: 3, storage_bytes: 1_048_576, concurrency: null }, effective: { credits: 3 } });

    await page.getByRole('button', { name: 'Reset credits' }).click();
    await page.getByText('Credits reset: a fresh 24 hours.').waitFor();
    for (let i = 0; i < 3; i++) expect((await server.api('GET', `/crm/v8/Leads/${recordId}`)).status).toBe(200);
    const refused = await server.api('GET', `/crm/v8/Leads/${recordId}`);
    expect(refused.status).toBe(429);
    expect(refused.json.code).toBe('TOO_MANY_REQUESTS');
    await page.getByRole('region', { name: /Limits of/ }).getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('definition').allTextContents()).toContainEqual(expect.stringContaining('3 used of 3 · 0 left'));
    await expectAccessible(page, 'limits');
    await screenshot(page, 'limits');

    await page.getByRole('button', { name: 'Remove limits' }).click();
    await page.getByText('Limits removed.').waitFor();
    expect((await server.admin('GET', `/orgs/${server.orgId}/limits`)).source).toBe('none');
    expect((await server.api('GET', `/crm/v8/Leads/${recordId}`)).status).toBe(200);
  });

  it('adds a fault rule by keyboard alone; the API answers with it until it is deleted', async () => {
    const add = page.getByRole('form', { name: 'Add a fault rule' });
    // A refusal first: the probability's problem is shown at its field.
    await add.getByLabel('Probability').fill('2');
    await add.getByRole('button', { name: 'Add fault rule' }).click();
    await expect.poll(() => add.locator('.field', { hasText: 'Probability' }).locator('.field-problem').textContent()).toMatch(/1/);
    await add.getByRole('button', { name: 'Clear form' }).click();
    expect((await server.admin('GET', '/faults')).faults).toEqual([]);

    // Keyboard only from here: type-ahead in the selects, Tab between fields, Enter to submit.
    await add.getByLabel('Operation').focus();
    await page.keyboard.type('record.get');
    await page.keyboard.press('Tab');
    await page.keyboard.type('GET');
    await page.keyboard.press('Tab');
    await page.keyboard.type('Leads');
    await page.keyboard.press('Tab');
    await page.keyboard.type('crm-media');
    for (let i = 0; i < 4; i++) await page.keyboard.press('Tab'); // user, token, client, then the action
    expect(await page.evaluate(() => (document.activeElement?.closest('label')?.querySelector('.label')?.textContent ?? ''))).toBe('Action');
    await page.keyboard.type('Answer');
    await page.keyboard.press('Tab');
    await page.keyboard.type('INTERNAL_E');
    await page.keyboard.press('Tab'); // probability
    await page.keyboard.press('Tab');
    await page.keyboard.type('2');
    await page.keyboard.press('Enter');
    await page.getByText('Fault rule added.').waitFor();
    const [rule] = (await server.admin('GET', '/faults')).faults;
    expect(rule).toMatchObject({
      match: { operation: 'record.get', method: 'GET', module: 'Leads', org: server.orgId, user: null },
      action: { error: 'INTERNAL_ERROR' },
      times_left: 2,
    });

    const failed = await server.api('GET', `/crm/v8/Leads/${recordId}`);
    expect(failed.status).toBe(500);
    expect(failed.json.code).toBe('INTERNAL_ERROR');
    await page.getByRole('region', { name: 'Fault rules' }).getByRole('button', { name: 'Refresh' }).click();
    const row = page.getByRole('row', { name: new RegExp(rule.id) });
    // Times left and fired, once the list is read again.
    await expect.poll(async () => [await row.getByRole('cell').nth(4).textContent(), await row.getByRole('cell').nth(6).textContent()]).toEqual(['1', '1']);
    expect(await row.textContent()).toContain('error INTERNAL_ERROR');
    await expectAccessible(page, 'faults');
    await page.getByRole('heading', { name: 'Fault rules' }).evaluate((h) => h.scrollIntoView());
    await screenshot(page, 'faults');

    await row.getByRole('button', { name: `Delete fault rule ${rule.id}` }).press('Enter');
    await page.getByText(`Fault rule ${rule.id} deleted.`).waitFor();
    expect((await server.admin('GET', '/faults')).faults).toEqual([]);
    expect((await server.api('GET', `/crm/v8/Leads/${recordId}`)).status).toBe(200);

    // Two more, then all gone at once.
    await add.getByLabel('Action').selectOption('reset');
    await add.getByRole('button', { name: 'Add fault rule' }).click();
    await add.getByLabel('Action').selectOption('delay');
    await add.getByLabel('Operation').selectOption('photo.*');
    await add.getByRole('button', { name: 'Add fault rule' }).click();
    await expect.poll(async () => (await server.admin('GET', '/faults')).faults.length).toBe(2);
    await page.getByRole('button', { name: 'Delete all rules' }).click();
    await page.getByText('Every fault rule deleted.').waitFor();
    expect((await server.admin('GET', '/faults')).faults).toEqual([]);
  });

  it('says plainly when the test clock is off; moves it and puts it back when it is on', async () => {
    await page.getByRole('note').filter({ hasText: 'keeps real time' }).waitFor();
    const clocked = await TestServer.start({ testClock: true });
    try {
      const p = await browser.context.newPage();
      await logIn(p, clocked.adminUrl);
      await p.getByRole('heading', { name: 'Orgs', level: 1 }).waitFor();
      await p.getByRole('link', { name: 'Limits & faults' }).click();
      await p.getByLabel('Advance by').fill('25h');
      await p.getByRole('button', { name: 'Advance' }).click();
      await p.getByText('Clock advanced by 25h.').waitFor();
      expect((await clocked.admin('GET', '/clock')).offset_ms).toBe(25 * 3_600_000);
      await p.getByText('1d 1h').waitFor();
      await p.getByLabel('Advance by').fill('soon');
      await p.getByRole('button', { name: 'Advance' }).click();
      await p.locator('.field-problem').filter({ hasText: 'duration' }).waitFor();
      await p.getByRole('button', { name: 'Back to real time' }).click();
      await p.getByText('Back to real time.').waitFor();
      expect((await clocked.admin('GET', '/clock')).offset_ms).toBe(0);
      await expectAccessible(p, 'limits with the clock');
      await p.close();
    } finally {
      await clocked.stop();
      // Cookies do not tell ports apart: that login replaced this server's session cookie.
      await logIn(page, server.adminUrl);
      await page.getByRole('heading', { name: 'Orgs', level: 1 }).waitFor();
    }
  });

  it('is usable by keyboard: skip link, log out and in again without a pointer', async () => {
    await page.goto(`${server.adminUrl}/_console/#/orgs/${server.orgId}/people`);
    await page.reload();
    await page.getByRole('heading', { name: 'Profiles & users' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await expectAccessible(page, 'people');
    await page.getByRole('button', { name: 'Log out' }).focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('Admin key').waitFor();
    // The login field has the focus: type the key and press Enter.
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Profiles & users' }).waitFor();
  });

  it('fits a phone-sized window', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.adminUrl}/_console/#/orgs/${server.orgId}/records/${recordId}`);
    await phone.getByRole('heading', { name: 'Leads: Console' }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expectAccessible(phone, 'record on a phone');
    await screenshot(phone, 'record-phone');
    await phone.goto(`${server.adminUrl}/_console/#/limits/${server.orgId}`);
    await phone.getByRole('heading', { name: 'Limits & faults', level: 1 }).waitFor();
    await phone.getByRole('form', { name: 'Add a fault rule' }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await expectAccessible(phone, 'limits on a phone');
    await phone.close();
  });

  it('refuses a forged cross-site form and a cross-origin fetch; nothing changes', async () => {
    const orgsBefore = (await server.admin('GET', '/orgs')).orgs;
    const evil = await startEvilSite(server.adminUrl);
    const hits: number[] = [];
    const watch = (res: { url(): string; status(): number }) => {
      if (res.url().startsWith(`${server.adminUrl}/_admin/`)) hits.push(res.status());
    };
    page.on('response', watch);
    try {
      // Same site (another port of 127.0.0.1): the cookie goes along, but neither the Origin nor a CSRF token fits.
      await page.goto(`${evil.url}/form`);
      await expect.poll(() => hits.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(hits.every((s) => s === 403)).toBe(true);
      await page.goto(`${evil.url}/fetch`);
      await page.getByText('fetch done').waitFor();
      await expect.poll(() => hits.length, { timeout: 10_000 }).toBeGreaterThan(1);
      expect(hits.every((s) => s === 403)).toBe(true);
      // Another site (localhost): the SameSite=Strict cookie is not even sent.
      await page.goto(`${evil.url.replace('127.0.0.1', 'localhost')}/form`);
      await expect.poll(() => hits.length, { timeout: 10_000 }).toBeGreaterThan(2);
      expect(hits[2]).toBe(401);
    } finally {
      page.off('response', watch);
      await evil.stop();
    }
    expect((await server.admin('GET', '/orgs')).orgs).toEqual(orgsBefore);
  });

  it('sends an expired session back to the login form', async () => {
    const short = await TestServer.start({ consoleSessionIdleMs: 1_000 });
    try {
      const p = await browser.context.newPage();
      await logIn(p, short.adminUrl);
      await p.getByRole('heading', { name: 'Orgs', level: 1 }).waitFor();
      await new Promise((r) => setTimeout(r, 1_300)); // the session's idle time passes: this test is about time
      await p.getByRole('link', { name: 'Request journal' }).click();
      await p.getByText('Your session has ended').waitFor();
      expect(await p.getByLabel('Admin key').isVisible()).toBe(true);
      await p.close();
    } finally {
      await short.stop();
    }
  });

  it('serves every file of the console itself, with a strict Content-Security-Policy', async () => {
    const res = await http('GET', `${server.adminUrl}/_console/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    const refs = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref.startsWith('/_console/') || ref === 'data:,').toBe(true);
    for (const ref of refs.filter((r) => r.startsWith('/_console/'))) {
      const asset = await http('GET', `${server.adminUrl}${ref}`);
      expect(asset.status).toBe(200);
      expect(asset.headers['cache-control']).toContain('immutable');
    }
  });
});

/** A page on another origin that tries to change the server's state with the browser's cookie. */
async function startEvilSite(target: string): Promise<{ url: string; stop(): Promise<void> }> {
  const pages: Record<string, string> = {
    '/form': `<!doctype html><html lang="en"><title>win a prize</title><body>
      <form id="f" method="post" action="${target}/_admin/reset" enctype="text/plain"><input name='{"x":"' value='"}'></form>
      <script>document.getElementById('f').submit()</script></body></html>`,
    '/fetch': `<!doctype html><html lang="en"><title>win a prize</title><body><p id="out">…</p>
      <script>
        fetch('${target}/_admin/orgs', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"name":"Evil"}' })
          .catch(() => undefined)
          .finally(() => { document.getElementById('out').textContent = 'fetch done'; });
      </script></body></html>`,
  };
  const srv: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const body = pages[u.pathname];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' });
    res.end(body ?? 'no');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        // The browser keeps its connections alive; they must not hold the close.
        srv.closeAllConnections();
      }),
  };
}
