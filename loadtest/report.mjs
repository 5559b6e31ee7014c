// Figures of a load-test run: per scenario p50/p95/p99, rate and errors from processor.cjs's samples
// and Artillery's error counters, judged against the spec's targets, as a Markdown table.

import fs from 'node:fs';
import os from 'node:os';

export const TARGETS = { p50: 50, p95: 200, p99: 500, errorPct: 0.1, rps: 1000 };
export const WS_TARGETS = { connectMs: 100, messageMs: 50, connections: 1000, msgsPerS: 10000 };

/** Samples of one scenario: [{t, ms, status, label, appMs}] (processor.cjs's lines; appMs null when the
 * answer had no Server-Timing `app`). */
export function readSamples(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [t, ms, status, label, app] = line.split(',');
      return { t: Number(t), ms: Number(ms), status: Number(status), label, appMs: app ? Number(app) : null };
    });
}

/** The q-quantile (0..1) of sorted numbers, nearest rank; null when empty. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) };
}

/** Errors Artillery counted that left no response (refused, timeouts, failed handshakes). */
export function artilleryErrors(reportFile) {
  if (!fs.existsSync(reportFile)) return 0;
  const counters = JSON.parse(fs.readFileSync(reportFile, 'utf8')).aggregate?.counters ?? {};
  return Object.entries(counters)
    .filter(([name]) => name.startsWith('errors.'))
    .reduce((sum, [, n]) => sum + n, 0);
}

function spanS(samples) {
  // Samples of several workers interleave: take the extremes, not the ends.
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of samples) {
    lo = Math.min(lo, s.t);
    hi = Math.max(hi, s.t);
  }
  return samples.length < 2 ? 1 : Math.max(1, (hi - lo) / 1000);
}

/** The row of an HTTP scenario. */
export function httpRow(name, users, samples, noAnswer) {
  const failed = samples.filter((s) => s.status === 0 || s.status >= 400).length + noAnswer;
  const total = samples.length + noAnswer;
  const row = {
    scenario: name,
    users,
    requests: total,
    rateLimited: samples.filter((s) => s.status === 429).length,
    ...percentiles(samples.map((s) => s.ms)),
    rps: samples.length / spanS(samples),
    errors: failed,
    errorPct: total ? (100 * failed) / total : 100,
  };
  row.misses = misses(row, TARGETS);
  return row;
}

/** The rows of the WebSocket scenario: connect time and message latency (sink stored -> received). */
export function wsRows(users, samples, noAnswer) {
  const connects = samples.filter((s) => s.label === 'WS connect');
  const messages = samples.filter((s) => s.label === 'WS message');
  const failed = samples.filter((s) => s.status === 0 || s.status >= 400 && s.status !== 1000).length + noAnswer;
  const attempts = connects.length + noAnswer;
  const errorPct = attempts ? (100 * failed) / attempts : 100;
  const connectRow = {
    scenario: 'websocket connect',
    users,
    requests: connects.length,
    ...percentiles(connects.map((s) => s.ms)),
    rps: connects.length / spanS(connects),
    errors: failed,
    errorPct,
  };
  const t = WS_TARGETS;
  connectRow.misses = [
    ...(connectRow.p99 === null || connectRow.p99 >= t.connectMs ? [`p99 connect >= ${t.connectMs} ms`] : []),
    ...(connects.length < Math.min(users, t.connections) ? [`${connects.length} of ${users} connected`] : []),
    ...(errorPct >= TARGETS.errorPct ? [`errors >= ${TARGETS.errorPct} %`] : []),
  ];
  const messageRow = {
    scenario: 'websocket message',
    users,
    requests: messages.length,
    ...percentiles(messages.map((s) => s.ms)),
    rps: messages.length / spanS(messages),
    errors: 0,
    errorPct: 0,
  };
  messageRow.misses = [
    ...(messageRow.p99 === null ? ['no message received'] : messageRow.p99 >= t.messageMs ? [`p99 >= ${t.messageMs} ms`] : []),
    ...(messageRow.rps < t.msgsPerS ? [`< ${t.msgsPerS} msg/s`] : []),
  ];
  return [connectRow, messageRow];
}

function misses(row, t) {
  const out = [];
  for (const q of ['p50', 'p95', 'p99']) if (row[q] === null || row[q] >= t[q]) out.push(`${q} >= ${t[q]} ms`);
  if (row.errorPct >= t.errorPct) out.push(`errors >= ${t.errorPct} %`);
  if (row.rps <= t.rps) out.push(`<= ${t.rps} req/s`);
  return out;
}

/** Per request kind of one scenario: [{label, requests, p50, p95, p99, appP50, appP95, errors}], slowest
 * p95 first; appP50/appP95 of the time the app took (null when no answer said). */
export function byRequest(samples) {
  const groups = new Map();
  for (const s of samples) {
    if (!groups.has(s.label)) groups.set(s.label, []);
    groups.get(s.label).push(s);
  }
  return [...groups.entries()]
    .map(([label, group]) => ({
      label,
      requests: group.length,
      ...percentiles(group.map((s) => s.ms)),
      ...appPercentiles(group),
      errors: group.filter((s) => s.status === 0 || s.status >= 400).length,
    }))
    .sort((a, b) => (b.p95 ?? 0) - (a.p95 ?? 0));
}

function appPercentiles(samples) {
  const { p50, p95 } = percentiles(samples.filter((s) => s.appMs !== null).map((s) => s.appMs));
  return { appP50: p50, appP95: p95 };
}

const fmt = (v, digits = 1) => (v === null || v === undefined ? '-' : Number(v).toFixed(digits));

/** The Markdown table of the rows, with the targets above it. */
export function markdownTable(rows, meta) {
  const lines = [
    `# perfpulse load test ${meta.startedAt}`,
    '',
    `Target ${meta.url}; ${meta.durationS} s per scenario; users x${meta.scale}; think ${meta.thinkS} s between rounds.`,
    `Spec targets (API): p50 < ${TARGETS.p50} ms, p95 < ${TARGETS.p95} ms, p99 < ${TARGETS.p99} ms, errors < ${TARGETS.errorPct} %, > ${TARGETS.rps} req/s.`,
    `WebSocket: connect < ${WS_TARGETS.connectMs} ms, message latency < ${WS_TARGETS.messageMs} ms, > ${WS_TARGETS.connections} connections, > ${WS_TARGETS.msgsPerS} msg/s.`,
    'Percentiles and req/s are of answered requests; a request unanswered in 30 s is an error, not a latency.',
    '',
    '| scenario | users | requests | p50 ms | p95 ms | p99 ms | req/s | errors | errors % | misses |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.users} | ${r.requests} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.rps)} | ${r.errors} | ${fmt(r.errorPct, 3)} | ${r.misses.length ? r.misses.join('; ') : 'meets all'} |`,
    );
  }
  const limited = rows.filter((r) => r.rateLimited > 0);
  if (limited.length > 0) {
    lines.push(
      '',
      `429 (the key's rate limit) in ${limited.map((r) => `${r.scenario}: ${r.rateLimited}`).join(', ')}: this measured the limiter.` +
        ' Start the target with PERFPULSE_RATE_QUERY_PER_S=0 PERFPULSE_RATE_INGEST_PER_S=0 to measure the API.',
    );
  }
  lines.push('', 'WebSocket rows: "requests" are connections (connect) or results received (message); req/s is their rate.');
  const measured = (meta.generator ?? []).filter((g) => g.cpuS !== null);
  if (measured.length > 0) {
    const cores = measured.map((g) => `${g.scenario} ${(g.cpuS / g.wallS).toFixed(2)}`).join(', ');
    const workers = Math.max(1, os.cpus().length - 1); // Artillery's local worker threads
    lines.push(
      '',
      `Artillery's own CPU, in cores over each scenario's run: ${cores}. It runs its users in ${workers} worker` +
        ` thread(s) here (${os.cpus().length} cores): near ${workers} core(s) it, not the target, limits the rate.`,
    );
  }
  if ((meta.details ?? []).length > 0) {
    lines.push(
      '',
      '"in app": the part of a response time perfpulse\'s app took (its Server-Timing `app`); the rest is the network,' +
        " the server's queue before the app and the load generator's own delay (it shares the machine's cores).",
    );
  }
  for (const { scenario, requests } of meta.details ?? []) {
    lines.push(
      '',
      `## ${scenario} by request`,
      '',
      '| request | answered | p50 ms | p95 ms | p99 ms | in app p50 ms | in app p95 ms | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of requests) {
      lines.push(
        `| ${r.label} | ${r.requests} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.appP50)} | ${fmt(r.appP95)} | ${r.errors} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
