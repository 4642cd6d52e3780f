// The dashboard page in a real browser: Debian's chromium, headless, driven by playwright-core,
// against a real metrics process holding the demo data (tests/e2e/metrics_dashboard_page_test.cc
// starts the suite and runs this script).
//   node dashboard_page.mjs <page URL> <token file> <force> <screenshot path>
// Checks: every form control has a label and the sign-in works from the keyboard; the tiles
// equal the /dashboard JSON fetched with the same token (formatted as the page formats it);
// changing the period and the area re-renders them; the chart and the coverage table hold the
// /series and /areas numbers; no script error and no Content-Security-Policy violation. Then it
// writes `awaiting_ingest=1` to stderr, the C++ side delivers one workshop through the
// workshops API, and the workshops tile must show one more without a reload. Finally a
// screenshot. Exit 0 = pass; any failure prints `FAIL: ...` and exits 1. No chromium is a
// failure, not a skip: CI installs it (apt-get install chromium).
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const [url, tokenFile, force, screenshotPath] = process.argv.slice(2);
const log = (line) => process.stderr.write(`${line}\n`);
// Before the browser runs a failure exits at once; after, it throws, so that `finally` closes
// the browser.
class Failure extends Error {}
let browserStarted = false;
function fail(message) {
  if (browserStarted) throw new Failure(message);
  log(`FAIL: ${message}`);
  process.exit(1);
}
if (!url || !tokenFile || !force || !screenshotPath) {
  fail('usage: node dashboard_page.mjs <page URL> <token file> <force> <screenshot path>');
}
const chromiumPath = process.env.OUTREACH_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  fail(`chromium is not installed at ${chromiumPath}: the dashboard page is tested in a real ` +
       'browser (Debian: apt-get install chromium, or set OUTREACH_CHROMIUM)');
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`playwright-core is missing (npm ci in tests/browser; the CTest fixture ` +
       `metrics_dashboard_page_npm_install does it): ${e.message}`);
}
const token = readFileSync(tokenFile, 'utf8').trim();
const base = new URL(url);
const BOUND_MS = 30000;  // every wait is for a condition, with this bound

// ---- the same formatting as dashboard.js, written again from the API's documentation ----
const COUNT = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
const count = (v) => COUNT.format(Number(v || 0));
const percent = (v) => `${Number(v || 0).toFixed(1)}%`;
const fraction = (v) => `${(Number(v || 0) * 100).toFixed(1)}%`;
const day = (d) => `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;

function expectedTiles(d) {
  const w = d.workshops; const t = d.training; const c = d.campaigns;
  const headline = (t.targets || [])[0];
  return {
    workshops: count(w.workshopsDelivered),
    pupils: count(w.pupilsReached),
    parents: count(w.parentsReached),
    staff: count(w.staffReached),
    schools: `${count(w.schoolsCovered)} of ${count(w.schoolsTotal)}`,
    disclosures: count(w.safeguardingDisclosures),
    'officers-trained': count(t.officersTrained),
    'officers-current': count(t.officersCurrent),
    compliance: headline ? percent(headline.compliancePercent) : 'No target',
    reach: count(c.reach),
    engagement: fraction(c.engagementRate),
  };
}

async function api(path, params) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries({ force, ...params })) if (v) u.searchParams.set(k, v);
  const res = await fetch(u, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status !== 200) fail(`${u.pathname}${u.search} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

function assert(condition, message) {
  if (!condition) fail(message);
}

const problems = [];  // console errors, page errors, CSP violations
let browser;
try {
  browserStarted = true;
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'Europe/London',
  });
  const page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  const response = await page.goto(url, { waitUntil: 'load' });
  assert(response && response.status() === 200, `GET / answered ${response && response.status()}`);
  const headers = response.headers();
  assert((headers['content-security-policy'] || '').includes("default-src 'self'"),
    `no CSP default-src 'self' on the page: ${headers['content-security-policy']}`);
  assert(headers['x-content-type-options'] === 'nosniff', 'no X-Content-Type-Options: nosniff');
  assert(await page.evaluate(() => typeof window.uPlot === 'function'),
    'uPlot did not load from the binary');

  // Accessibility basics: every control is labelled, the language is set.
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.outerHTML));
  assert(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);
  assert(await page.evaluate(() => document.documentElement.lang === 'en-GB'), 'html lang is not en-GB');
  assert(await page.evaluate(() => document.getElementById('token').type === 'password'),
    'the token field is not a password field');

  // Sign in with the keyboard only: Tab reaches the force field, the token field, the button.
  const focusOrder = [];
  for (let i = 0; i < 6 && focusOrder[focusOrder.length - 1] !== 'submit'; i += 1) {
    await page.keyboard.press('Tab');
    focusOrder.push(await page.evaluate(() => document.activeElement.id || document.activeElement.type || document.activeElement.tagName));
    if (focusOrder[focusOrder.length - 1] === 'force') await page.keyboard.type(force);
    if (focusOrder[focusOrder.length - 1] === 'token') await page.keyboard.type(token);
  }
  assert(focusOrder.includes('force') && focusOrder.includes('token') && focusOrder.includes('submit'),
    `Tab order does not reach the sign-in controls: ${focusOrder.join(' → ')}`);
  await page.keyboard.press('Enter');
  assert(!page.url().includes(token.slice(0, 16)), 'the token appeared in the URL');

  // The page has rendered the dashboard whose JSON we read (same version and dates).
  async function tilesMatch(params, what) {
    let d = null;
    const deadline = Date.now() + BOUND_MS;
    for (;;) {
      d = await api('/dashboard', params);
      const rendered = await page.evaluate(() => ({
        key: document.body.dataset.renderedKey || '',
        tiles: Object.fromEntries([...document.querySelectorAll('[data-kpi]')]
          .map((el) => [el.dataset.kpi, el.querySelector('.value').textContent])),
      }));
      const key = `${d.dataVersion}|${day(d.dateRange.startDate)}|${day(d.dateRange.endDate)}|${d.area}`;
      const want = expectedTiles(d);
      const wrong = Object.keys(want).filter((k) => rendered.tiles[k] !== want[k]);
      if (rendered.key === key && wrong.length === 0) {
        log(`tiles ok (${what}): ${JSON.stringify(rendered.tiles)}`);
        return d;
      }
      if (Date.now() > deadline) {
        fail(`${what}: tiles ${JSON.stringify(rendered.tiles)} (rendered ${rendered.key}) are not ` +
             `the JSON's ${JSON.stringify(want)} (${key}); wrong: ${wrong.join(', ')}`);
      }
      await page.waitForTimeout(200);
    }
  }

  const year = await tilesMatch({ period: 'ACADEMIC_YEAR' }, 'academic year');
  assert(Number(year.workshops.workshopsDelivered) > 0, 'the demo data is not in: no workshops this year');
  assert((year.training.targets || []).length > 0, 'the force has no training target (the test sets one)');
  // What the server sends is text: a display name with markup in it stays characters.
  const forceName = await page.evaluate(() => {
    const el = document.getElementById('force-name');
    return { text: el.textContent, elements: el.querySelectorAll('*').length };
  });
  assert(forceName.text === `– ${year.forceDisplayName}` && forceName.elements === 0,
    `the force name ${JSON.stringify(forceName)} is not the text of ${JSON.stringify(year.forceDisplayName)}`);
  const freshness = await page.textContent('#freshness');
  assert(freshness.startsWith('Data as of '), `no "as of" freshness: ${freshness}`);

  // The chart and its table hold the /series numbers; the coverage table the /areas rows.
  const series = await api('/series', {
    metric: 'PUPILS_REACHED', granularity: 'MONTH',
    start: day(year.dateRange.startDate), end: day(year.dateRange.endDate),
  });
  const points = series.series[0].points;
  await page.waitForFunction((n) => document.querySelectorAll('#series-table tbody tr').length === n,
    points.length, { timeout: BOUND_MS });
  const tableValues = await page.$$eval('#series-table tbody td', (tds) => tds.map((td) => td.textContent));
  assert(JSON.stringify(tableValues) === JSON.stringify(points.map((p) => count(p.value))),
    `series table ${tableValues} is not /series ${points.map((p) => p.value)}`);
  assert(await page.locator('#chart canvas').count() > 0, 'the chart drew no canvas');
  const areas = await api('/areas', { period: 'ACADEMIC_YEAR' });
  assert(areas.areas.length > 0, '/areas lists no area');
  await page.waitForFunction((n) => document.querySelectorAll('#coverage tbody tr').length === n,
    areas.areas.length, { timeout: BOUND_MS });
  const firstRow = await page.$$eval('#coverage tbody tr:first-child > *', (cells) => cells.map((c) => c.textContent));
  const a0 = areas.areas[0];
  assert(JSON.stringify(firstRow) === JSON.stringify([a0.area, count(a0.schoolsCovered), count(a0.schoolsTotal),
    percent(a0.schoolsCoveredPercent), count(a0.workshopsDelivered), count(a0.pupilsReached)]),
  `coverage row ${firstRow} is not /areas ${JSON.stringify(a0)}`);

  // Change the period (keyboard-operable select), then the area, then back.
  await page.selectOption('#period', 'TERM');
  const term = await tilesMatch({ period: 'TERM' }, 'term');
  assert(day(term.dateRange.startDate) !== day(year.dateRange.startDate) ||
         day(term.dateRange.endDate) !== day(year.dateRange.endDate), 'the term has the year\'s dates');
  // A week long before the demo's sessions (all within 21 days of today): other numbers, so
  // the tiles must really have changed.
  const longAgo = new Date(Date.now() - 200 * 86400000).toISOString().slice(0, 10);
  await page.selectOption('#period', 'WEEK');
  await page.fill('#anchor', longAgo);
  const week = await tilesMatch({ period: 'WEEK', anchor: longAgo }, `week of ${longAgo}`);
  assert(Number(week.workshops.workshopsDelivered) === 0 &&
         day(week.dateRange.startDate) <= longAgo && longAgo <= day(week.dateRange.endDate),
  `the week of ${longAgo} is not that week or holds workshops: ${JSON.stringify(week.dateRange)}`);
  await page.fill('#anchor', '');
  await page.selectOption('#period', 'ACADEMIC_YEAR');
  await page.selectOption('#area', a0.area);
  await tilesMatch({ period: 'ACADEMIC_YEAR', area: a0.area }, `area ${a0.area}`);
  await page.selectOption('#area', '');
  const before = await tilesMatch({ period: 'ACADEMIC_YEAR' }, 'academic year again');

  // Live: one more workshop delivered, seen without a reload.
  await page.evaluate(() => { window.sameDocumentMarker = 'still here'; });
  log('awaiting_ingest=1');
  const deadline = Date.now() + 90000;
  let after = before;
  while (after.dataVersion === before.dataVersion) {
    if (Date.now() > deadline) fail('the data version never changed after the delivery');
    await new Promise((r) => { setTimeout(r, 250); });
    after = await api('/dashboard', { period: 'ACADEMIC_YEAR' });
  }
  assert(Number(after.workshops.workshopsDelivered) === Number(before.workshops.workshopsDelivered) + 1,
    `the JSON went from ${before.workshops.workshopsDelivered} to ${after.workshops.workshopsDelivered} workshops, not +1`);
  try {
    await page.waitForFunction((want) => document.querySelector('[data-kpi="workshops"] .value').textContent === want,
      count(after.workshops.workshopsDelivered), { timeout: BOUND_MS });
  } catch (e) {
    fail(`no live update: ${BOUND_MS / 1000} s after the JSON showed ${count(after.workshops.workshopsDelivered)} ` +
         'workshops the tile still shows ' +
         `${await page.textContent('[data-kpi="workshops"] .value')}`);
  }
  await tilesMatch({ period: 'ACADEMIC_YEAR' }, 'after the delivery');
  assert(await page.evaluate(() => window.sameDocumentMarker === 'still here'), 'the page reloaded to update');
  log(`live update ok: workshops ${count(before.workshops.workshopsDelivered)} -> ${count(after.workshops.workshopsDelivered)}`);

  mkdirSync(dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath, fullPage: true });
  log(`screenshot=${screenshotPath}`);

  const csp = problems.filter((p) => /Content Security Policy|Refused to/i.test(p));
  assert(csp.length === 0, `CSP violations: ${csp.join(' | ')}`);
  assert(problems.length === 0, `errors in the page: ${problems.join(' | ')}`);
  log('dashboard page: PASS');
} catch (e) {
  log(`FAIL: ${e instanceof Failure ? e.message : (e && e.stack) || String(e)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
}
