// Browser test of the holiday-home example, in real Chromium driven by
// playwright-core (which downloads no browser: it drives the one at
// $CHROMIUM). TestBrowser in ../browser_test.go starts the resort and runs
// this script; run by hand with those variables set:
//
//   HH_CHECKIN      the guest app's check-in link for home 1 (on this machine)
//   HH_RELAY        the same link through the resort's relay
//   HH_ENERGYSAVER  EnergySaver's page
//   HH_DASHBOARD    the owner's dashboard login link
//   HH_SHOTS        where to save screenshots
//   CHROMIUM        the browser, /usr/bin/chromium by default
//
// It checks in, toggles a light and reads it back through the gateway's
// API, approves EnergySaver on the home's consent page, withdraws that
// consent in the consent centre and watches EnergySaver lose access, checks
// that EnergySaver's page can reach neither the guest's token nor the
// consent page (every app has its own origin), then reloads offline and
// sees the stale view, and finally uses the app through the relay.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (k, d) => {
  const v = process.env[k] || d;
  if (!v) { console.error(`browser test: ${k} is not set`); process.exit(2); }
  return v;
};
const checkin = env('HH_CHECKIN');
const relayCheckin = env('HH_RELAY');
const energySaver = env('HH_ENERGYSAVER');
const dashboard = env('HH_DASHBOARD');
const shots = env('HH_SHOTS');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
fs.mkdirSync(shots, { recursive: true });

const LAMP = 'urn:hearth:home:living-room-light';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hh-chromium-'));
const ctx = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--no-first-run', '--disable-component-update', '--disable-sync'],
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: false,
  locale: 'en-GB',
  timezoneId: 'Europe/Amsterdam',
});
ctx.setDefaultTimeout(15000);
const errors = [];
let step = 'start';
const page = ctx.pages()[0] || await ctx.newPage();
page.on('pageerror', (e) => errors.push(`${step}: ${e.message}`));

async function shot(name) {
  await page.screenshot({ path: path.join(shots, name), fullPage: false });
  console.log(`  screenshot ${name}`);
}
function log(s) { step = s; console.log(`- ${s}`); }
function check(cond, msg) { if (!cond) throw new Error(msg); }

try {
  log('check in with the code from the key card');
  await page.goto(checkin);
  await page.waitForSelector('input#code');
  await shot('01-checkin.png');
  await page.click('button[type=submit]');
  await page.waitForSelector(`.thing[data-id="${LAMP}"]`);
  await page.waitForSelector('#conn.on'); // live updates connected
  await shot('02-home.png');

  log('the app is an installable progressive web app');
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cdp = await ctx.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  check(installabilityErrors.length === 0, 'not installable: ' + JSON.stringify(installabilityErrors));
  const manifest = await cdp.send('Page.getAppManifest');
  check(manifest.errors.length === 0, 'manifest errors: ' + JSON.stringify(manifest.errors));
  await cdp.detach();

  log('toggle the living-room light and read it back through the API');
  const sw = page.locator(`.thing[data-id="${LAMP}"] .switch`);
  const before = await sw.getAttribute('aria-checked');
  await sw.click();
  const want = before !== 'true';
  await page.waitForFunction(([id, v]) => {
    const s = document.querySelector(`.thing[data-id="${id}"] .switch`);
    return s && s.getAttribute('aria-checked') === String(v);
  }, [LAMP, want]);
  const viaAPI = await page.evaluate(async (id) => {
    const t = await window.holidayHome.token();
    const r = await fetch(`things/${id}/properties/on`, { headers: { Authorization: 'Bearer ' + t } });
    return r.json();
  }, LAMP);
  check(viaAPI === want, `the gateway says the light is ${viaAPI}, want ${want}`);
  await page.waitForFunction((id) => document.querySelector(`.thing[data-id="${id}"] [data-summary]`).textContent.startsWith('On'), LAMP);
  await shot('03-light-on.png');

  log('add a new device: the button is the user gesture, the label gives the code');
  await page.goto(new URL('#apps', page.url()).href);
  await page.click('#unbox');
  const code = (await page.textContent('#label .code')).trim();
  check(/^\d{4}-\d{4}$/.test(code), `label shows setup code "${code}"`);
  await page.fill('#setup-code', code);
  await shot('04-add-device.png');
  await page.click('#add-device');
  await page.waitForFunction(() => document.querySelector('#add-status').textContent.startsWith('Added'));
  await page.goto(new URL('#home', page.url()).href);
  const added = page.locator('.thing', { has: page.locator('h3', { hasText: 'Desk lamp plug' }) });
  await added.scrollIntoViewIfNeeded();
  await shot('05-device-added.png');

  log('connect EnergySaver: approve on the home\'s consent page');
  await page.goto(new URL('#apps', page.url()).href);
  await page.waitForSelector('#connect-energysaver');
  await page.click('#connect-energysaver');
  await page.waitForSelector('button[value=approve]');
  check(page.url().includes('/consent/authorize'), `expected the consent page, got ${page.url()}`);
  await shot('06-consent-page.png');
  await page.click('button[value=approve]');
  await page.waitForURL(energySaver);
  await page.waitForSelector('.conn[data-status=connected] .big');
  await page.waitForFunction(() => /\d/.test(document.querySelector('.conn[data-status=connected] [data-power]').textContent));
  // The meter's energy count streams in over SSE through the relay: a new
  // value every 0.1 Wh, up to ~11 s apart at the meter's lowest draw.
  await page.waitForFunction(() => /· [1-9]\d* updates? received/.test(document.querySelector('.conn[data-status=connected] .meta').textContent), null, { timeout: 30000 });
  await shot('07-energysaver-connected.png');
  const esURL = page.url();

  log('withdraw EnergySaver\'s access in the consent centre');
  await page.goto(new URL('./#privacy', checkin).href);
  const card = page.locator('.grant[data-holder=energysaver].active');
  await card.waitFor();
  await card.locator('button[data-revoke]').click();
  await page.waitForSelector('.grant[data-holder=energysaver].revoked');
  await shot('08-consent-centre-withdrawn.png');

  log('EnergySaver loses access at once');
  await page.goto(esURL);
  await page.waitForSelector('.conn[data-status=withdrawn]', { timeout: 10000 });
  await shot('09-energysaver-withdrawn.png');

  log('EnergySaver\'s page cannot use the guest\'s session at the home');
  await page.goto(esURL);
  const attempts = await page.evaluate(async (homes) => {
    const out = [];
    for (const u of homes) {
      for (const p of ['api/token', 'consent/api/grants']) {
        try {
          const r = await fetch(new URL(p, u).href, { credentials: 'include' });
          out.push(`${u}${p}: read ${r.status}`);
        } catch (e) { /* refused by the browser: nothing to read */ }
      }
    }
    // Nor does any path of its own origin lead to a home.
    for (const p of ['/homes/home-1/api/token', '/home-1/api/token']) {
      const r = await fetch(p, { credentials: 'include' });
      if (r.ok) out.push(`${p}: ${r.status}`);
    }
    return out;
  }, [new URL('./', checkin).href, new URL('./', relayCheckin).href]);
  check(attempts.length === 0, 'EnergySaver\'s page read the home: ' + attempts.join('; '));

  log('reload offline: the last known states, marked stale');
  const app = new URL('./', checkin).href;
  await page.goto(app);
  await page.waitForSelector('#conn.on');
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload(); // now controlled by the service worker
  await page.waitForSelector('#conn.on');
  await page.waitForTimeout(700); // let the cache of states settle
  await ctx.setOffline(true);
  await page.reload();
  await page.waitForSelector('body.stale #banner:not([hidden])');
  const summary = await page.textContent(`.thing[data-id="${LAMP}"] [data-summary]`);
  check(summary.startsWith(want ? 'On' : 'Off'), `offline view shows the light as "${summary}"`);
  check(await page.locator('#conn.off').count() === 1, 'the status pill does not say offline');
  await shot('10-offline-stale.png');
  await ctx.setOffline(false);
  // Back online, the app reloads itself and goes live again.
  await page.waitForSelector('#conn.on');

  log('away from home: the same app through the resort\'s relay');
  await page.goto(relayCheckin);
  await page.click('button[type=submit]');
  await page.waitForSelector(`.thing[data-id="${LAMP}"]`);
  await page.waitForFunction(() => document.querySelector('#conn').textContent.includes('via resort'));
  await shot('11-via-relay.png');

  log('the owner\'s dashboard (aggregates only)');
  const owner = await ctx.newPage();
  await owner.setViewportSize({ width: 1280, height: 900 });
  await owner.goto(dashboard);
  await owner.waitForSelector('#maint tr');
  await owner.locator('#maint button').first().click();
  await owner.waitForSelector('#maint .result.refused');
  await owner.screenshot({ path: path.join(shots, '12-owner-dashboard.png'), fullPage: true });
  console.log('  screenshot 12-owner-dashboard.png');
  await owner.close();

  check(errors.length === 0, 'page errors: ' + errors.join('; '));
  console.log('browser test: PASS');
} catch (e) {
  console.error(`browser test: FAIL at "${step}": ${e.message}`);
  try { await shot('failure.png'); } catch (e2) { /* ignore */ }
  process.exitCode = 1;
} finally {
  await ctx.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
