// The dashboard page of the metrics service (services/metrics/README.md "Dashboard page").
// Reads /dashboard, /series and /areas with the caller's bearer token and renders them with
// textContent only (never innerHTML), so nothing the server sends can become markup. Live:
// polls /dashboard every POLL_MS and re-renders when data_version (or the period's dates)
// changed. The token lives in sessionStorage (this tab only) and is sent as a header, never in
// a URL. No personal data exists in the API; the page shows counts only.
'use strict';

(() => {
  const POLL_MS = 2000;
  const COUNT = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
  const WHEN = new Intl.DateTimeFormat('en-GB', {
    dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/London',
  });
  const CLOCK = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium', timeZone: 'Europe/London' });

  const $ = (id) => document.getElementById(id);
  const state = {
    force: sessionStorage.getItem('outreach.force') || '',
    token: sessionStorage.getItem('outreach.token') || '',
    dashboardKey: '',  // data_version + date range last rendered
    generation: 0,     // bumped by every filter change; older answers are dropped
    chart: null,
    timer: null,
  };

  // ---- formatting (the browser test formats the JSON the same way) ----
  const num = (v) => Number(v || 0);
  const count = (v) => COUNT.format(num(v));
  const percent = (v) => `${num(v).toFixed(1)}%`;
  const fraction = (v) => `${(num(v) * 100).toFixed(1)}%`;
  const day = (d) => (d && d.year
    ? `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`
    : '');

  function setText(el, text) { el.textContent = text; }
  function tile(kpi, value, detail) {
    const el = document.querySelector(`[data-kpi="${kpi}"]`);
    setText(el.querySelector('.value'), value);
    setText(el.querySelector('.detail'), detail || '');
  }

  function showError(text) {
    const el = $('error');
    setText(el, text);
    el.hidden = !text;
  }

  // ---- HTTP ----
  class HttpFailure extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function getJson(path, params) {
    const query = new URLSearchParams({ force: state.force, ...params });
    for (const [k, v] of [...query.entries()]) if (v === '') query.delete(k);
    const res = await fetch(`${path}?${query}`, {
      headers: { Authorization: `Bearer ${state.token}` },
      cache: 'no-store',
      credentials: 'omit',
    });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const message = body && body.error && body.error.message ? body.error.message : res.statusText;
      throw new HttpFailure(res.status, message);
    }
    return body;
  }

  function periodParams() {
    return { period: $('period').value, anchor: $('anchor').value };
  }

  // ---- rendering ----
  function renderDashboard(d) {
    const w = d.workshops || {};
    const t = d.training || {};
    const c = d.campaigns || {};
    const headline = (t.targets || [])[0];
    tile('workshops', count(w.workshopsDelivered),
      `${count(w.workshopsScheduled)} scheduled, ${count(w.workshopsCancelled)} cancelled`);
    tile('pupils', count(w.pupilsReached), `${count(w.peopleReached)} people in all`);
    tile('parents', count(w.parentsReached));
    tile('staff', count(w.staffReached));
    tile('schools', `${count(w.schoolsCovered)} of ${count(w.schoolsTotal)}`,
      num(w.schoolCoverageTargetPercent) > 0
        ? `${percent(w.schoolsCoveredPercent)} (target ${percent(w.schoolCoverageTargetPercent)})`
        : percent(w.schoolsCoveredPercent));
    tile('disclosures', count(w.safeguardingDisclosures));
    tile('officers-trained', count(t.officersTrained), `${count(t.courseCompletions)} completions`);
    tile('officers-current', count(t.officersCurrent),
      headline ? `target ${count(headline.targetOfficersRequired)} (${headline.targetMet ? 'met' : `${count(headline.shortfall)} short`})`
        : `of ${count(t.officersActive)} active officers`);
    tile('compliance', headline ? percent(headline.compliancePercent) : 'No target',
      headline ? (headline.target && headline.target.displayName) || 'headline training target' : 'set one in ForceSettings');
    tile('reach', count(c.reach),
      num(c.reachTarget) > 0 ? `of target ${count(c.reachTarget)} (${percent(c.reachTargetPercent)})` : 'no reach target');
    tile('engagement', fraction(c.engagementRate),
      `${count(c.engagements)} engagements of ${count(c.impressions)} impressions`);

    const range = d.dateRange || {};
    setText($('range'), `${day(range.startDate)} to ${day(range.endDate)}${d.area ? `, ${d.area}` : ''}`);
    setText($('force-name'), d.forceDisplayName ? `– ${d.forceDisplayName}` : `– ${state.force}`);
    document.body.dataset.dataVersion = String(d.dataVersion);
    document.body.dataset.rangeStart = day(range.startDate);
    document.body.dataset.rangeEnd = day(range.endDate);
  }

  function renderFreshness(d) {
    const asOf = d && d.asOf ? `Data as of ${WHEN.format(new Date(d.asOf))} (newest event)` : 'No data yet';
    setText($('freshness'), `${asOf}. Checked ${CLOCK.format(new Date())}.`);
  }

  function renderSeries(s, metricLabel) {
    const series = (s.series || [])[0] || { points: [] };
    const labels = series.points.map((p) => p.label);
    const values = series.points.map((p) => num(p.value));
    const body = $('series-table').querySelector('tbody');
    body.replaceChildren(...series.points.map((p) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      setText(th, p.label);
      const td = document.createElement('td');
      td.className = 'number';
      setText(td, count(p.value));
      tr.append(th, td);
      return tr;
    }));
    setText($('series-caption'), `${metricLabel} by ${$('granularity').selectedOptions[0].text.toLowerCase()}`);
    $('chart').setAttribute('aria-label', `Chart of ${metricLabel.toLowerCase()}: ${labels.length} buckets, total ${count(values.reduce((a, b) => a + b, 0))}. The same numbers are in the table below.`);
    if (state.chart) { state.chart.destroy(); state.chart = null; }
    if (typeof window.uPlot !== 'function') return;  // the table still shows the numbers
    const el = $('chart');
    const opts = {
      width: Math.max(320, el.clientWidth || 640),
      height: 300,
      scales: { x: { time: false } },
      axes: [
        { values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? labels[i] || '' : '')), stroke: '#1b1b1b' },
        { stroke: '#1b1b1b' },
      ],
      series: [
        { label: 'Bucket', value: (u, i) => (i == null ? '' : labels[i] || '') },
        { label: metricLabel, stroke: '#1d4f91', width: 2, fill: 'rgba(29, 79, 145, 0.12)', points: { show: true } },
      ],
    };
    state.chart = new window.uPlot(opts, [labels.map((_, i) => i), values], el);
  }

  function renderCoverage(a) {
    const body = $('coverage').querySelector('tbody');
    const rows = (a.areas || []).map((r) => {
      const tr = document.createElement('tr');
      const cells = [r.area, count(r.schoolsCovered), count(r.schoolsTotal),
        percent(r.schoolsCoveredPercent), count(r.workshopsDelivered), count(r.pupilsReached)];
      cells.forEach((text, i) => {
        const cell = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) cell.scope = 'row'; else cell.className = 'number';
        setText(cell, text);
        tr.append(cell);
      });
      return tr;
    });
    body.replaceChildren(...rows);
    const note = $('coverage-note');
    note.hidden = !a.truncated && rows.length > 0;
    setText(note, rows.length === 0 ? 'No areas known yet.' : 'Only the first areas are shown.');
    // The area picker offers the known areas, keeping the current choice.
    const select = $('area');
    const chosen = select.value;
    const options = [new Option('All areas', '')];
    for (const r of a.areas || []) options.push(new Option(r.area, r.area));
    if (chosen && !(a.areas || []).some((r) => r.area === chosen)) options.push(new Option(chosen, chosen));
    select.replaceChildren(...options);
    select.value = chosen;
  }

  // ---- loading ----
  async function refresh(force) {
    const generation = state.generation;
    const params = { ...periodParams(), area: $('area').value };
    try {
      const d = await getJson('/dashboard', params);
      if (generation !== state.generation) return;
      renderFreshness(d);
      const range = d.dateRange || {};
      const key = `${d.dataVersion}|${day(range.startDate)}|${day(range.endDate)}|${d.area}`;
      if (!force && key === state.dashboardKey) return;
      renderDashboard(d);
      const metric = $('metric');
      const [s, a] = await Promise.all([
        getJson('/series', {
          metric: metric.value, granularity: $('granularity').value,
          start: day(range.startDate), end: day(range.endDate), area: $('area').value,
        }),
        getJson('/areas', periodParams()),
      ]);
      if (generation !== state.generation) return;
      renderSeries(s, metric.selectedOptions[0].text);
      renderCoverage(a);
      state.dashboardKey = key;
      document.body.dataset.renderedKey = key;
      showError('');
    } catch (e) {
      if (generation !== state.generation) return;
      if (e instanceof HttpFailure && (e.status === 401 || e.status === 403)) {
        signOut(e.status === 401 ? 'The token was refused: sign in again.'
          : `This token may not read the dashboard of force "${state.force}".`);
        return;
      }
      showError(e instanceof HttpFailure
        ? `The dashboard could not be read (HTTP ${e.status}: ${e.message}). Retrying.`
        : 'The metrics service did not answer. Retrying.');
    }
  }

  function changed() {
    state.generation += 1;
    state.dashboardKey = '';
    refresh(true);
  }

  function startPolling() {
    stopPolling();
    state.timer = setInterval(() => { refresh(false); }, POLL_MS);
  }
  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  function signIn(force, token) {
    state.force = force;
    state.token = token;
    sessionStorage.setItem('outreach.force', force);
    sessionStorage.setItem('outreach.token', token);
    $('signin').hidden = true;
    $('dashboard').hidden = false;
    showError('');
    changed();
    startPolling();
    $('period').focus();
  }

  function signOut(message) {
    stopPolling();
    state.generation += 1;
    state.token = '';
    state.dashboardKey = '';
    sessionStorage.removeItem('outreach.token');
    $('dashboard').hidden = true;
    $('signin').hidden = false;
    $('token').value = '';
    $('force').value = state.force;
    setText($('freshness'), 'Not signed in.');
    showError(message || '');
    $('token').focus();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin').addEventListener('submit', (event) => {
      event.preventDefault();
      const force = $('force').value.trim();
      const token = $('token').value.trim();
      if (!force || !token) return;
      $('token').value = '';
      signIn(force, token);
    });
    $('signout').addEventListener('click', () => signOut(''));
    $('filters').addEventListener('submit', (event) => event.preventDefault());
    for (const id of ['period', 'anchor', 'area', 'metric', 'granularity']) {
      $(id).addEventListener('change', changed);
    }
    window.addEventListener('resize', () => {
      if (state.chart) state.chart.setSize({ width: Math.max(320, $('chart').clientWidth), height: 300 });
    });
    $('force').value = state.force;
    if (state.force && state.token) signIn(state.force, state.token);
  });
})();
