// Async context and W3C trace context, without perfpulse: spans nest through AsyncLocalStorage,
// sibling tasks stay apart, traceparent parses and formats as the recommendation says.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Perfpulse, continueTrace, currentContext, extract, inject, parseTraceparent } from "@perfpulse/sdk";

/** A client whose transport keeps what it is sent, to look at the spans. */
function recordingClient() {
  const spans = [];
  const logs = [];
  const transport = {
    sendMetrics: async () => {},
    sendSpans: async (_service, batch) => void spans.push(...batch),
    sendLogs: async (_service, batch) => void logs.push(...batch),
    close: async () => {},
  };
  const pp = new Perfpulse({ service: "ctx", transport, exitHooks: false, lingerMs: 10 });
  return { pp, spans, logs };
}

test("a span started inside another is its child; sibling tasks never see each other's spans", async () => {
  const { pp, spans } = recordingClient();
  const seen = {};
  await pp.span("root", async (root) => {
    await Promise.all(
      ["a", "b"].map((name) =>
        pp.span(`task-${name}`, async (task) => {
          await new Promise((r) => setTimeout(r, name === "a" ? 20 : 5));
          seen[name] = currentContext().spanId;
          assert.equal(task.context.traceId, root.context.traceId);
          await pp.span(`inner-${name}`, async () => {
            await new Promise((r) => setImmediate(r));
          });
        }),
      ),
    );
    assert.equal(currentContext().spanId, root.spanId, "the root is current again after its children");
  });
  assert.equal(currentContext(), undefined);
  await pp.close();
  const byName = Object.fromEntries(spans.map((s) => [s.operation, s]));
  assert.equal(byName.root.parentSpanId, null);
  for (const name of ["a", "b"]) {
    assert.equal(byName[`task-${name}`].parentSpanId, byName.root.spanId);
    assert.equal(byName[`inner-${name}`].parentSpanId, byName[`task-${name}`].spanId, `inner-${name} under task-${name}`);
    assert.equal(seen[name], byName[`task-${name}`].spanId);
  }
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1);
});

test("a throw marks the span an error and is passed on; logs carry the current span", async () => {
  const { pp, spans, logs } = recordingClient();
  await assert.rejects(
    pp.span("fails", async () => {
      pp.log("warning", "about to fail", { attempt: 2, password: "hunter2" });
      throw new Error("boom");
    }),
    /boom/,
  );
  pp.log("info", "outside");
  await pp.close();
  assert.equal(spans[0].status, "error");
  assert.match(spans[0].statusMessage, /Error: boom/);
  assert.equal(logs[0].level, "warn");
  assert.equal(logs[0].spanId, spans[0].spanId);
  assert.equal(logs[0].traceId, spans[0].traceId);
  assert.deepEqual(logs[0].attributes, { attempt: "2", password: "[REDACTED]" });
  assert.equal(logs[1].traceId, null);
});

test("traceparent: extract continues the caller's trace, inject names the current span", async () => {
  const { pp, spans } = recordingClient();
  const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const outgoing = await continueTrace({ TraceParent: parent, tracestate: "congo=t61rcWkgMzE" }, () =>
    pp.span("handle", () => inject({})),
  );
  await pp.close();
  assert.equal(spans[0].traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(spans[0].parentSpanId, "b7ad6b7169203331");
  assert.deepEqual(outgoing, { traceparent: `00-0af7651916cd43dd8448eb211c80319c-${spans[0].spanId}-01`, tracestate: "congo=t61rcWkgMzE" });
  assert.deepEqual(inject({ a: "b" }), { a: "b" }, "no context: headers unchanged");
});

test("malformed traceparent values give no context", () => {
  for (const bad of [
    "",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
  ]) {
    assert.equal(parseTraceparent(bad), undefined, bad);
  }
  const future = parseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-more");
  assert.equal(future.sampled, false);
  assert.equal(extract(new Headers({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })).spanId, "b7ad6b7169203331");
});

test("a full buffer drops and counts, never blocks, when perfpulse is unreachable", async () => {
  const pp = new Perfpulse({
    service: "drops",
    http: { url: "http://127.0.0.1:9", timeoutMs: 200 },
    exitHooks: false,
    maxBuffer: 100,
    batchSize: 10,
    lingerMs: 5,
    closeTimeoutMs: 300,
    onError: () => {},
  });
  const h = pp.distribution("latency").bind({ route: "/x" });
  const started = performance.now();
  for (let i = 0; i < 10_000; i++) h.observe(i);
  assert.ok(performance.now() - started < 1000, "recording never waits for the transport");
  const stats = pp.stats().points;
  assert.equal(stats.held, 100);
  assert.equal(stats.dropped, 9900);
  assert.equal(await pp.close(), false, "close reports that not everything was delivered");
  assert.equal(pp.stats().points.dropped, 10_000);
  assert.equal(pp.stats().points.sent, 0);
  assert.match(pp.stats().lastError, /cannot send metrics to http:\/\/127\.0\.0\.1:9/);
});

test("bad names, labels and values are refused at the call, naming them", () => {
  const { pp } = recordingClient();
  assert.throws(() => pp.distribution("1bad"), /cannot create instrument: name '1bad' must start with a letter/);
  assert.throws(() => pp.counter("ok").bind({ service: "x" }), /label name 'service' is reserved/);
  assert.throws(() => pp.gauge("ok").set(Number.NaN), /cannot record ok: value NaN is not a finite number/);
  assert.throws(() => pp.log("loud", "x"), /level "loud" must be one of/);
  assert.throws(() => new Perfpulse({ service: "a b", transport: {} }), /service 'a b' has characters outside/);
  void pp.close();
});
