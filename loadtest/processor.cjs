// Artillery processor for perfpulse's load tests: runs inside Artillery's workers.
//
// Contract: every HTTP response and every WebSocket event is appended to LOADTEST_SAMPLES as one line
// `epoch_ms,latency_ms,status,label` (status 0 = no answer); report.mjs makes the table and chart from
// these lines, so every scenario's figures come from one source, measured the same way (whole response
// time, not Artillery's time to first byte). Virtual users loop until LOADTEST_DURATION_S seconds after
// the first one started in this worker, so "N concurrent users" stay N for the whole run.
'use strict';

const fs = require('node:fs');

const SAMPLES = process.env.LOADTEST_SAMPLES;
const DURATION_MS = Number(process.env.LOADTEST_DURATION_S || '60') * 1000;
const PONG_EVERY_MS = 10_000; // the server closes a connection silent for 45 s (4408)
let endAt = null;

function remainingMs() {
  if (endAt === null) endAt = Date.now() + DURATION_MS;
  return endAt - Date.now();
}

// Samples wait here and are appended a batch at a time: one appendFileSync per sample (open, write,
// close) was a syscall triple per request in the worker that also makes the requests.
const FLUSH_EVERY_MS = 500;
const pending = [];
let flushedAt = 0;

/** One sample: when, the whole response time, the status, what was asked and, for an HTTP answer, the
 * time perfpulse's app took (its Server-Timing `app`; empty when absent). */
function record(latencyMs, status, label, appMs = '') {
  const now = Date.now();
  pending.push(`${now},${latencyMs.toFixed(2)},${status},${label},${appMs}\n`);
  if (now - flushedAt >= FLUSH_EVERY_MS) flush(now);
}

/** Append the waiting samples: one write with O_APPEND, so batches of worker threads stay whole lines. */
function flush(now = Date.now()) {
  if (pending.length > 0) fs.appendFileSync(SAMPLES, pending.join(''));
  pending.length = 0;
  flushedAt = now;
}

const APP_TIMING = /(?:^|,)\s*app;dur=([0-9.]+)/;

/** whileTrue of every HTTP user's loop: go on while the scenario's time is not over. */
function timeLeft(context, next) {
  const more = remainingMs() > 0;
  if (!more) flush(); // this user's last samples
  return next(more);
}

let usersStarted = 0;

/** First step of an HTTP user's round: which request of the mix (config.variables.mixSize long) is next. */
function nextRequest(context, events, done) {
  // Each user starts at another point of the mix, so few users still ask for all of it at once.
  if (context.vars.round === undefined) context.vars.round = usersStarted++;
  context.vars.pick = context.vars.round++ % Number(context.vars.mixSize);
  return done();
}

// The mix's steps run under `ifTrue: 'isPick<k>'`. A name of a processor function is called as is;
// an expression ("pick == 3") was compiled by filtrex at every evaluation, nine per round: ~5 % of
// Artillery's CPU in a profile of the normal scenario.
const MIX_MAX = 64;
const picks = Object.fromEntries(
  Array.from({ length: MIX_MAX }, (_, k) => [`isPick${k}`, (vars) => vars.pick === k]),
);

/** afterResponse of every HTTP request: one sample with the whole response time and the app's part. */
function sample(req, res, context, events, next) {
  const phases = (res.timings && res.timings.phases) || {};
  const latency = phases.total ?? phases.firstByte ?? 0;
  const path = new URL(req.url, 'http://x').pathname.replace(/\/traces\/[^/]+$/, '/traces/{id}');
  const app = APP_TIMING.exec(String(res.headers['server-timing'] ?? ''));
  record(latency, res.statusCode, `${req.method || 'GET'} ${path}`, app ? app[1] : '');
  return next();
}

/** connect.function of the WebSocket scenario: note when the connection was asked for. */
function wsStart(wsArgs, context, done) {
  context.vars.connectAskedAt = Date.now();
  return done();
}

/**
 * The WebSocket user, once connected: records the connect time, subscribes (services' RED and a
 * query, as the dashboard does), records the subscribe round trip and, for each result pushed, the
 * time from the sink storing it to its arrival here (the live feed's message latency); answers
 * heartbeats by a pong and holds the connection until the scenario's time is over. A close before
 * then, or an error frame, is a failed sample.
 */
async function wsHold(context) {
  const ws = context.ws;
  record(Date.now() - context.vars.connectAskedAt, 101, 'WS connect');
  await new Promise((resolve) => {
    let finished = false;
    let subscribeSentAt = 0;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(pong);
      clearTimeout(timer);
      flush();
      resolve();
    };
    ws.on('message', (data) => {
      if (finished) return; // the scenario's time is over and its samples are written
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return record(0, 0, 'WS unreadable frame');
      }
      const now = Date.now();
      if (frame.type === 'subscribed') record(now - subscribeSentAt, 200, 'WS subscribe');
      else if (frame.type === 'error') record(0, 400, 'WS error frame');
      else if (frame.type === 'batch') {
        for (const event of frame.events) record(Math.max(0, now - event.stored_at), 200, 'WS message');
      }
    });
    ws.on('close', (code) => {
      if (!finished) record(0, code, 'WS closed early');
      finish();
    });
    const pong = setInterval(() => ws.send('{"type":"pong"}'), PONG_EVERY_MS);
    const timer = setTimeout(finish, Math.max(0, remainingMs()));
    subscribeSentAt = Date.now();
    ws.send(
      JSON.stringify({
        type: 'subscribe',
        subscriptions: [
          { id: 'red', kind: 'services' },
          { id: 'p99', kind: 'query', metric: 'http.server.duration', stats: ['p50', 'p95', 'p99'], group_by: ['service'] },
        ],
      }),
    );
  });
}

module.exports = { MIX_MAX, timeLeft, nextRequest, sample, wsStart, wsHold, ...picks };
