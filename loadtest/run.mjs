// `make loadtest`: runs the spec's load-test scenarios with Artillery against a running perfpulse and
// writes report.md (table against the spec's targets), summary.json and latency.png into a results
// folder.
//
// Environment: PERFPULSE_URL (default http://127.0.0.1:8080), PERFPULSE_API_KEY (a read or admin key;
// empty when the deployment has no keys), PERFPULSE_INGEST_KEY (default the API key),
// LOADTEST_DURATION_S (60 per scenario), LOADTEST_SCENARIOS (normal,peak,stress,spike,websocket),
// LOADTEST_SCALE (1: multiplies every scenario's users), LOADTEST_THINK_S (0.1 s between a user's
// rounds), LOADTEST_RESULTS (default results/<UTC time>), LOADTEST_SETTLE_MAX_S (180: how long to wait
// before a scenario for the target to answer a read within 2 s again).
// Exit status: 0 when every scenario ran (whether or not it met the targets), 1 when one could not.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, artilleryScript } from './scenarios.mjs';
import { artilleryErrors, byRequest, httpRow, markdownTable, readSamples, wsRows } from './report.mjs';
import { writeChart } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

function number(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: expected a non-negative number`);
  return value;
}

const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const opts = {
  here,
  url: (env.PERFPULSE_URL || 'http://127.0.0.1:8080').replace(/\/$/, ''),
  key: env.PERFPULSE_API_KEY || '',
  ingestKey: env.PERFPULSE_INGEST_KEY || '',
  durationS: number('LOADTEST_DURATION_S', 60),
  scale: number('LOADTEST_SCALE', 1),
  thinkS: number('LOADTEST_THINK_S', 0.1),
  traceIds: [],
};
const names = (env.LOADTEST_SCENARIOS || Object.keys(SCENARIOS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
const out = path.resolve(env.LOADTEST_RESULTS || path.join(here, 'results', startedAt.replace(/:/g, '')));

/** GET a JSON path of the target; the error names the status and body when it fails. */
async function getJson(urlPath) {
  const res = await fetch(`${opts.url}${urlPath}`, { headers: opts.key ? { Authorization: `Bearer ${opts.key}` } : {} });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${opts.url}${urlPath} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/**
 * Wait until the target answers a read within SETTLE_MS: a server keeps working on requests whose
 * clients timed out, so without this a scenario would start against the previous one's backlog.
 */
async function settle(name) {
  const SETTLE_MS = 2000;
  const deadline = Date.now() + number('LOADTEST_SETTLE_MAX_S', 180) * 1000;
  for (let tries = 1; ; tries++) {
    const began = Date.now();
    try {
      await getJson('/api/v1/services');
      if (Date.now() - began < SETTLE_MS) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) {
      console.log(`[${name}] the target still answers slower than ${SETTLE_MS} ms after ${tries} tries: starting anyway`);
      return;
    }
    console.log(`[${name}] waiting for the previous scenario's backlog to drain (a read took ${Date.now() - began} ms) ...`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

const USER_HZ = 100; // Linux's clock ticks per second in /proc/<pid>/stat

/** CPU seconds process `pid` has used (user + system), from /proc; null where there is none. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // fields 14 and 15: utime, stime
  } catch {
    return null;
  }
}

/**
 * Run one Artillery script; resolves when it exits with the CPU seconds Artillery used (read every
 * 200 ms while it runs, so its last moments are missed; null off Linux), rejects with its output's
 * tail when it fails. The load generator shares the machine with the target: its CPU is part of the
 * figures' story.
 */
function artillery(scriptFile, reportFile, samplesFile, logFile) {
  return new Promise((resolve, reject) => {
    const bin = path.join(here, 'node_modules', '.bin', 'artillery');
    const log = fs.openSync(logFile, 'w');
    const child = spawn(bin, ['run', '--output', reportFile, scriptFile], {
      cwd: here,
      stdio: ['ignore', log, log],
      env: {
        ...env,
        LOADTEST_SAMPLES: samplesFile,
        LOADTEST_DURATION_S: String(opts.durationS),
        ARTILLERY_DISABLE_TELEMETRY: 'true',
      },
    });
    let cpuS = null;
    const poll = setInterval(() => {
      cpuS = cpuSeconds(child.pid) ?? cpuS;
    }, 200);
    child.on('error', (err) => reject(new Error(`could not start ${bin}: ${err.message} (run make loadtest, which runs npm ci)`)));
    child.on('exit', (code) => {
      clearInterval(poll);
      fs.closeSync(log);
      if (code === 0) return resolve(cpuS);
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      reject(new Error(`artillery exited ${code} on ${scriptFile}:\n${tail}`));
    });
  });
}

async function main() {
  for (const name of names) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name}: one of ${Object.keys(SCENARIOS).join(', ')}`);
  fs.mkdirSync(out, { recursive: true });
  // The target must be up, and the key good: fail once here rather than as 100 % errors per scenario.
  await getJson('/api/v1/services');
  const traces = await getJson('/api/v1/traces?limit=20');
  opts.traceIds = traces.traces.map((t) => t.trace_id);
  if (opts.traceIds.length === 0) console.log('no traces stored yet: the dashboard mix runs without the trace read');
  console.log(`load test of ${opts.url}: ${names.join(', ')}; ${opts.durationS} s each, users x${opts.scale}; results in ${out}`);

  const rows = [];
  const generator = []; // Artillery's CPU per scenario
  const details = [];
  const panels = [];
  for (const name of names) {
    const { users, script } = artilleryScript(name, opts);
    const files = Object.fromEntries(['script.json', 'artillery.json', 'samples.csv', 'artillery.log'].map((f) => [f, path.join(out, `${name}.${f}`)]));
    fs.writeFileSync(files['script.json'], JSON.stringify(script, null, 2));
    fs.rmSync(files['samples.csv'], { force: true });
    fs.writeFileSync(files['samples.csv'], '');
    await settle(name);
    const began = Date.now();
    console.log(`[${name}] ${SCENARIOS[name].what}: ${users} users for ${opts.durationS} s ...`);
    const cpuS = await artillery(files['script.json'], files['artillery.json'], files['samples.csv'], files['artillery.log']);
    const wallS = (Date.now() - began) / 1000;
    const samples = readSamples(files['samples.csv']);
    const noAnswer = artilleryErrors(files['artillery.json']);
    const scenarioRows = SCENARIOS[name].engine === 'ws' ? wsRows(users, samples, noAnswer) : [httpRow(name, users, samples, noAnswer)];
    rows.push(...scenarioRows);
    generator.push({ scenario: name, cpuS, wallS });
    for (const r of scenarioRows) {
      console.log(
        `[${name}] ${r.scenario}: ${r.requests} in ${((Date.now() - began) / 1000).toFixed(0)} s, p50 ${r.p50} ms, p95 ${r.p95} ms, p99 ${r.p99} ms, ${r.rps.toFixed(1)}/s, errors ${r.errors} (${r.errorPct.toFixed(3)} %)`,
      );
    }
    if (SCENARIOS[name].engine === 'ws') {
      panels.push({ title: `websocket: connect time, ${users} connections`, samples: samples.filter((s) => s.label === 'WS connect') });
      panels.push({ title: 'websocket: message latency (sink stored -> received)', samples: samples.filter((s) => s.label === 'WS message') });
    } else {
      details.push({ scenario: name, requests: byRequest(samples) });
      panels.push({ title: `${name}: ${users} users (dashboard mix + ingest)`, samples: samples.filter((s) => s.status > 0) });
    }
  }
  const meta = { startedAt, url: opts.url, durationS: opts.durationS, scale: opts.scale, thinkS: opts.thinkS };
  const table = markdownTable(rows, { ...meta, details, generator });
  fs.writeFileSync(path.join(out, 'report.md'), table);
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ ...meta, rows, generator }, null, 2));
  const bytes = writeChart(path.join(out, 'latency.png'), panels, opts.durationS);
  console.log(`\n${table}\nwrote ${path.join(out, 'report.md')}, summary.json and latency.png (${bytes} bytes)`);
}

main().catch((err) => {
  console.error(`load test failed: ${err.message}`);
  process.exit(1);
});
