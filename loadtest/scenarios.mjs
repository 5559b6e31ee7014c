// The spec's load-test scenarios as Artillery scripts (JSON objects, written out by run.mjs).
//
// HTTP scenarios: `users` virtual users arrive over `rampS` seconds and each loops until the
// scenario's duration is over (processor.cjs timeLeft), so the spec's "N concurrent users" are N users
// at once, each making one request at a time and waiting `thinkS` between them: in turn the
// dashboard's reads (batch, single query, services, alerts, logs, a trace) and metric batches to the
// ingest endpoint, by the weights below. The WebSocket scenario holds `users` live
// connections for the duration.

import { createRequire } from 'node:module';
import path from 'node:path';

const { MIX_MAX } = createRequire(import.meta.url)('./processor.cjs');

/** users, ramp (seconds; "all" = the whole duration) and engine per scenario, as the spec names them. */
export const SCENARIOS = {
  normal: { users: 100, ramp: 5, engine: 'http', what: 'normal load, 100 concurrent users' },
  peak: { users: 500, ramp: 10, engine: 'http', what: 'peak load, 500 concurrent users' },
  stress: { users: 1000, ramp: 15, engine: 'http', what: 'stress, 1,000 concurrent users' },
  spike: { users: 500, ramp: 'all', engine: 'http', what: 'spike, 0 to 500 users over the run (60 s: 1 minute)' },
  websocket: { users: 1000, ramp: 10, engine: 'ws', what: '1,000 live connections to WS /api/v1/live' },
};

function headers(key) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/**
 * The dashboard's requests, each with its weight in the mix: one batch of its panels (the dashboard's
 * main round trip) twice as often as each single read. One request per loop round, so a user stops
 * at most one request after the scenario's time is over.
 */
function dashboardRequests(opts) {
  const auth = headers(opts.key);
  const get = (url) => ({ get: { url, headers: auth, afterResponse: 'sample' } });
  const batch = {
    queries: [
      { metric: 'http.server.duration', stats: ['p50', 'p95', 'p99', 'rate'], step: '10s', group_by: ['service'] },
      { metric: 'span.duration', stats: ['p95', 'count'], step: '60s', group_by: ['service', 'operation'] },
      { metric: 'http.server.duration', stats: ['count'], group_by: [] },
    ],
  };
  const requests = [
    ['batch', 2, { post: { url: '/api/v1/query/batch', json: batch, headers: auth, afterResponse: 'sample' } }],
    ['query', 1, get('/api/v1/query?metric=http.server.duration&stats=p50,p95,p99,count&step=10s')],
    ['services', 1, get('/api/v1/services')],
    ['alerts', 1, get('/api/v1/alerts')],
    ['logs', 1, get('/api/v1/logs?limit=50')],
  ];
  if (opts.traceIds.length > 0) requests.push(['trace', 1, get('/api/v1/traces/{{ traceId }}')]);
  return requests;
}

/** A batch of 10 points (latency observations of a "loadtest" service). */
function ingestRequest(opts) {
  const points = Array.from({ length: 10 }, (_, i) => ({ name: 'loadtest.duration', value: 5 + i }));
  return {
    post: {
      url: '/api/v1/ingest/metrics',
      json: { service: 'loadtest', labels: { source: 'artillery' }, points },
      headers: headers(opts.ingestKey || opts.key),
      afterResponse: 'sample',
    },
  };
}

function phases(spec, opts, users) {
  const ramp = spec.ramp === 'all' ? opts.durationS : Math.min(spec.ramp, Math.max(1, opts.durationS / 3));
  return [{ duration: Math.max(1, Math.round(ramp)), arrivalCount: users, name: 'ramp' }];
}

/**
 * The Artillery script of scenario `name`.
 * opts: {url, key, ingestKey, durationS, scale, thinkS, traceIds, here}
 */
export function artilleryScript(name, opts) {
  const spec = SCENARIOS[name];
  if (!spec) throw new Error(`unknown scenario ${name}: one of ${Object.keys(SCENARIOS).join(', ')}`);
  const users = Math.max(1, Math.round(spec.users * opts.scale));
  const config = {
    phases: phases(spec, opts, users),
    processor: path.join(opts.here, 'processor.cjs'),
  };
  if (spec.engine === 'ws') {
    const ws = new URL('/api/v1/live', opts.url);
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    ws.searchParams.set('interval_ms', '1000');
    // A WebSocket client without subprotocols passes its key as access_token (api/live.py).
    if (opts.key) ws.searchParams.set('access_token', opts.key);
    return {
      users,
      script: {
        config: { ...config, target: ws.toString(), ws: { perMessageDeflate: true } },
        scenarios: [{ name: 'live', engine: 'ws', flow: [{ connect: { function: 'wsStart' } }, { function: 'wsHold' }] }],
      },
    };
  }
  // The mix as a sequence each user cycles through, from its own starting point (processor.cjs
  // nextRequest): every kind is asked by every user that makes as many requests as the sequence is long.
  const mix = [];
  for (const [, weight, request] of [...dashboardRequests(opts), ['ingest', 2, ingestRequest(opts)]]) {
    for (let i = 0; i < weight; i++) mix.push(request);
  }
  if (mix.length > MIX_MAX) throw new Error(`the mix has ${mix.length} requests, processor.cjs picks among ${MIX_MAX}`);
  const steps = mix.map((request, k) => {
    const [method] = Object.keys(request);
    return { [method]: { ...request[method], ifTrue: `isPick${k}` } };
  });
  return {
    users,
    script: {
      config: {
        ...config,
        target: opts.url,
        http: { timeout: 30 },
        variables: { mixSize: mix.length, ...(opts.traceIds.length > 0 ? { traceId: opts.traceIds } : {}) },
      },
      scenarios: [
        {
          name: 'dashboard mix and ingest',
          flow: [{ loop: [{ function: 'nextRequest' }, ...steps, { think: opts.thinkS }], whileTrue: 'timeLeft' }],
        },
      ],
    },
  };
}
