// Drives Debian's chromium (playwright-core, no browser download) against a
// running tickgate and prints one JSON object with what the page showed.
// Used by tests/integration/test_dashboard.py; the assertions live there.
//
//   node dashboard.mjs '{"url":"http://127.0.0.1:PORT/","out":"DIR","scenario":"embedded"}'
//
// Scenarios: "embedded" (demo token, quotes, portfolios, feeds, reconnect,
// screenshots), "alert" (a new alert must arrive live), "paste" (sign in
// with a pasted token; a bad one first).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const opts = JSON.parse(process.argv[2] || '{}');
const url = opts.url;
const out = opts.out || '.';
const scenario = opts.scenario || 'embedded';
const result = { scenario, steps: [], external: [], console_errors: [], page_errors: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = (name, extra) => result.steps.push({ name, t: Date.now() - t0, ...(extra || {}) });
let t0 = Date.now();
// Waits are bounds for a slow, cold, sanitized machine (the test passes TIMEOUT_SCALE).
const S = opts.scale || 1;

// Everything stops by itself: a hard deadline for the whole run.
const deadline = setTimeout(() => {
  result.error = 'deadline';
  console.log(JSON.stringify(result));
  process.exit(3);
}, S * (opts.deadline_s || 90) * 1000);

const userDir = mkdtempSync(join(tmpdir(), 'tg-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: opts.chromium || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timeout: S * 30000,
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const base = new URL(url);
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:') return;
    if (u.hostname !== base.hostname || u.port !== base.port) result.external.push(r.url());
  });
  page.on('console', (m) => { if (m.type() === 'error') result.console_errors.push(m.text()); });
  page.on('pageerror', (e) => result.page_errors.push(String(e)));

  t0 = Date.now();
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: S * 15000 });
  step('loaded');
  result.title = await page.title();

  if (scenario === 'paste') {
    await page.waitForSelector('#signin:not([hidden])', { timeout: S * 10000 });
    step('signin_shown');
    await page.fill('#token-input', opts.bad_token);
    await page.click('#signin-submit');
    await page.waitForSelector('#signin:not([hidden]) #signin-error:not([hidden])', { timeout: S * 10000 });
    result.bad_token_error = await page.textContent('#signin-error');
    step('bad_token_refused');
    await page.fill('#token-input', opts.token);
    await page.click('#signin-submit');
  }

  await page.waitForSelector('#conn.live', { timeout: S * 15000 });
  step('live');
  result.user = await page.textContent('#user');
  result.stored_token_in = await page.evaluate(() => ({
    session: !!sessionStorage.getItem('tickgate.token'),
    local: Object.keys(localStorage).length,
  }));

  // ≥ 20 symbols with a price; time from navigation
  await page.waitForFunction(() => {
    const cells = document.querySelectorAll('#quote-rows td.px');
    let n = 0;
    cells.forEach((c) => { if (/\d/.test(c.textContent)) n++; });
    return n >= 20;
  }, null, { timeout: S * 15000, polling: 50 });
  result.first_20_quotes_ms = Date.now() - t0;
  step('quotes');

  const prices = () => page.evaluate(() => {
    const o = {};
    document.querySelectorAll('#quote-rows tr').forEach((tr) => {
      o[tr.dataset.symbol] = tr.querySelector('td.px').textContent + '|' + tr.querySelector('td.chg').textContent;
    });
    return o;
  });
  const p1 = await prices();
  await sleep(2000);
  const p2 = await prices();
  result.symbols = Object.keys(p2).length;
  result.symbols_changed = Object.keys(p2).filter((s) => p1[s] !== undefined && p1[s] !== p2[s]).length;
  result.sample_rows = await page.evaluate(() => Array.from(document.querySelectorAll('#quote-rows tr')).slice(0, 3)
    .map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent)));
  result.sparklines_drawn = await page.evaluate(() => {
    let n = 0;
    document.querySelectorAll('#quote-rows canvas').forEach((c) => {
      if (!c.width) return;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) { n++; return; }
    });
    return n;
  });
  result.latency = { p50: await page.textContent('#lat-p50'), p95: await page.textContent('#lat-p95'), rate: await page.textContent('#rate') };
  step('sampled');

  if (scenario === 'embedded' || scenario === 'paste') {
    try {
      await page.waitForSelector('#portfolios .pf .holding', { timeout: S * 8000 });
    } catch (e) { /* reported as none */ }
    await sleep(300);
    result.portfolios = await page.evaluate(() => Array.from(document.querySelectorAll('#portfolios .pf')).map((c) => ({
      id: c.dataset.id,
      value: c.querySelector('.value').textContent,
      pnl: c.querySelector('.pnl').textContent,
      day: c.querySelector('.day').textContent,
      holdings: Array.from(c.querySelectorAll('.holding')).map((h) => ({
        symbol: h.dataset.symbol, over: h.classList.contains('over'),
        weight: h.querySelector('.hw').textContent, drift: h.querySelector('.hd').textContent,
        bar: h.querySelector('.fill').style.width,
      })),
    })));
    const v1 = result.portfolios.map((p) => p.value).join();
    await sleep(1500);
    const v2 = await page.evaluate(() => Array.from(document.querySelectorAll('#portfolios .pf .value')).map((e) => e.textContent).join());
    result.portfolio_values_moved = v1 !== v2;
    result.alerts_listed = await page.evaluate(() => Array.from(document.querySelectorAll('#alerts li.alert')).map((li) => ({
      id: li.dataset.alertId, state: li.dataset.state, rule: li.dataset.rule, cls: li.className, text: li.textContent })).slice(0, 20));
    result.feeds = await page.evaluate(() => Array.from(document.querySelectorAll('#feed-rows tr')).map((tr) => ({
      feed: tr.dataset.feed, cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent) })));
    step('panels');
  }

  if (scenario === 'embedded') {
    // candlestick chart: REST history + live bars of the selected symbol (1s)
    const chartState = () => page.evaluate(() => {
      const t = window.__tickgate, c = t.candles, bars = c ? c.bars() : [];
      const cv = document.getElementById('chart');
      let drawn = 0;
      if (cv && cv.width) {
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) drawn++;
      }
      return { key: t.chartKey(), count: bars.length, newest: bars.length ? bars[bars.length - 1].start : 0,
        finals: bars.filter((b) => b.final).length, drawn, label: document.getElementById('chart-sym').textContent,
        selected: Array.from(document.querySelectorAll('#quote-rows tr.selected')).map((tr) => tr.dataset.symbol),
        bar_msgs: t.stats.byType.bar || 0 };
    });
    try {
      await page.waitForFunction(() => window.__tickgate.candles && window.__tickgate.candles.count() >= 1,
        null, { timeout: 20000 * S, polling: 100 });
    } catch (e) { /* reported below */ }
    result.chart_first = await chartState();
    step('chart_candles');
    try {
      // a new interval ends: a candle with a later start appears (generous wait)
      await page.waitForFunction((n) => {
        const b = window.__tickgate.candles.bars();
        return b.length && b[b.length - 1].start > n;
      }, result.chart_first.newest, { timeout: 20000 * S, polling: 100 });
    } catch (e) { /* reported below */ }
    await sleep(300);
    result.chart_later = await chartState();
    step('chart_new_candle');
    // switch to 1m: the chart reloads for the new key
    await page.click('.chart .iv button[data-iv="1m"]');
    try {
      await page.waitForFunction(() => window.__tickgate.chartKey().endsWith('@1m') &&
        window.__tickgate.candles.count() >= 1, null, { timeout: 20000 * S, polling: 100 });
    } catch (e) { /* reported below */ }
    result.chart_1m = await chartState();
    await page.click('.chart .iv button[data-iv="1s"]');
    step('chart_switch');
    await page.screenshot({ path: join(out, 'dashboard.png') });
    step('screenshot');
    // drop the connection: the page must come back by itself and resume with since
    await page.waitForFunction(() => window.__tickgate.state.ws && window.__tickgate.state.established,
      null, { timeout: S * 15000, polling: 50 });
    const before = await page.evaluate(() => ({ ...window.__tickgate.stats.recovered }));
    const sessions = await page.evaluate(() => window.__tickgate.stats.established);
    result.sessions_before_drop = sessions;
    await page.evaluate(() => window.__tickgate.state.ws.close());
    step('dropped');
    // a new session, not just the indicator: the reconnect can be faster than any poll
    await page.waitForFunction((n) => window.__tickgate.stats.established > n, sessions,
      { timeout: S * 15000, polling: 50 });
    await page.waitForSelector('#conn.live', { timeout: S * 15000 });
    step('reconnected');
    await sleep(1500);
    const after = await page.evaluate(() => ({ ...window.__tickgate.stats.recovered }));
    result.recovered = { complete: after.complete - before.complete, reset: after.reset - before.reset };
    const q1 = await prices();
    await sleep(1000);
    const q2 = await prices();
    result.symbols_changed_after_reconnect = Object.keys(q2).filter((s) => q1[s] !== q2[s]).length;
    // a narrow window (phone width) must not scroll sideways
    await page.setViewportSize({ width: 400, height: 860 });
    await sleep(600);
    result.narrow = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
    await page.screenshot({ path: join(out, 'dashboard-narrow.png') });
    step('narrow');
  }

  if (scenario === 'alert') {
    // alerts already listed (HTTP history, or live before now) don't count
    const seen = await page.evaluate(() => Array.from(document.querySelectorAll('#alerts li.alert')).map((li) => li.dataset.alertId + '|' + li.dataset.state));
    result.alerts_before = seen.length;
    const h = await page.waitForFunction((seenList) => {
      const seenSet = new Set(seenList);
      const li = Array.from(document.querySelectorAll('#alerts li.alert.firing'))
        .find((x) => !seenSet.has(x.dataset.alertId + '|' + x.dataset.state) && x.classList.contains('new'));
      if (!li) return null;
      return { id: li.dataset.alertId, state: li.dataset.state, rule: li.dataset.rule, cls: li.className,
        text: li.textContent, firing_count: document.querySelector('#alert-firing').textContent };
    }, seen, { timeout: S * (opts.alert_wait_s || 30) * 1000, polling: 100 });
    result.new_alert = await h.jsonValue();
    result.new_alert_ms = Date.now() - t0;
    step('alert');
    // the ack button: POST /api/v1/alerts/{id}/ack, then alert_ack over the socket
    const id = result.new_alert.id;
    await page.evaluate((aid) => {
      const li = Array.from(document.querySelectorAll('#alerts li.alert.firing')).find((x) => x.dataset.alertId === aid);
      li.querySelector('button.ack').click();
    }, id);
    const ah = await page.waitForFunction((aid) => {
      const li = Array.from(document.querySelectorAll('#alerts li.alert.firing')).find((x) => x.dataset.alertId === aid);
      const acks = (window.__tickgate.stats.byType || {}).alert_ack || 0;
      if (!li || !li.classList.contains('acked') || acks < 1) return null;
      return { cls: li.className, button: li.querySelector('button.ack').textContent, acks };
    }, id, { timeout: 20000 * S, polling: 100 });
    result.acked = await ah.jsonValue();
    step('ack');
    await sleep(400);
    await page.screenshot({ path: join(out, 'dashboard-alert.png') });
  }
  result.stats = await page.evaluate(() => window.__tickgate.stats);
  result.ok = true;
} catch (e) {
  result.error = String(e && e.stack || e);
  try {
    const page = ctx && ctx.pages()[0];
    if (page) await page.screenshot({ path: join(out, `dashboard-failed-${scenario}.png`) });
  } catch (e2) { /* ignore */ }
} finally {
  if (ctx) await ctx.close().catch(() => {});
  rmSync(userDir, { recursive: true, force: true });
  clearTimeout(deadline);
}
console.log(JSON.stringify(result));
