// Metrics, spans and logs sent by the SDK over HTTP and over Kafka arrive in a real perfpulse, and
// are found through its API: counts and sums by label, the trace tree, logs by trace.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Perfpulse } from "@perfpulse/sdk";

import { KAFKA, counts, eventually, getJson, perfpulse, uniqueService } from "./perfpulse.mjs";

async function sendAndFind(t, transport) {
  const deployment = await perfpulse(t);
  const service = uniqueService(transport);
  const options =
    transport === "http"
      ? { http: { url: deployment.url } }
      : { kafka: { bootstrap: KAFKA, topicPrefix: deployment.topicPrefix } };
  const startMs = Date.now() - 1000;
  const pp = new Perfpulse({ service, ...options, labels: { region: "eu" }, exitHooks: false, closeTimeoutMs: 30_000 });

  const latency = pp.distribution("http.server.duration").bind({ route: "/cart" });
  for (let i = 1; i <= 100; i++) latency.observe(i);
  pp.distribution("http.server.duration").observe(500, { route: "/pay" });
  const orders = pp.counter("orders.created").bind({});
  for (let i = 0; i < 7; i++) orders.add(2);
  pp.gauge("queue.length").set(17, { queue: "tasks" });

  let traceId;
  await pp.span(
    "POST /orders",
    async (root) => {
      traceId = root.traceId;
      root.log("cache miss", "warn", { key: "cart:42" });
      await pp.span("db.query", async (db) => {
        db.setTags({ table: "orders" });
        pp.log("info", "order stored", { items: 3 });
        await pp.span("db.commit", () => new Promise((r) => setTimeout(r, 2)));
      });
      await pp.span("pricing", () => {});
    },
    { kind: "server", tags: { route: "/orders" } },
  );
  assert.equal(await pp.close(), true, `everything delivered: ${JSON.stringify(pp.stats())}`);
  assert.equal(pp.dropped, 0);

  const byRoute = await eventually("http.server.duration by route", async () => {
    const series = await counts(deployment.url, "http.server.duration", service, startMs, "route");
    const found = Object.fromEntries(series.map((s) => [s.group.route, s]));
    return found["/cart"]?.count === 100 && found["/pay"]?.count === 1 ? found : undefined;
  });
  assert.equal(byRoute["/cart"].sum, 5050);
  const [ordersSeries] = await eventually("orders.created", async () => {
    const series = await counts(deployment.url, "orders.created", service, startMs);
    return series[0]?.count === 7 ? series : undefined;
  });
  assert.equal(ordersSeries.sum, 14);
  await eventually("queue.length", async () => (await counts(deployment.url, "queue.length", service, startMs, "queue"))[0]?.group.queue === "tasks");

  const trace = await eventually("the trace", async () => {
    const { status, body } = await getJson(deployment.url, `/api/v1/traces/${traceId}`);
    return status === 200 && body.spans.length === 4 ? body : undefined;
  });
  const spans = Object.fromEntries(trace.spans.map((s) => [s.operation, s]));
  assert.equal(spans["POST /orders"].depth, 0);
  assert.equal(spans["POST /orders"].kind, "server");
  assert.equal(spans["POST /orders"].events[0].message, "cache miss");
  assert.equal(spans["db.query"].parent_span_id, spans["POST /orders"].span_id);
  assert.equal(spans["db.commit"].parent_span_id, spans["db.query"].span_id);
  assert.equal(spans["db.commit"].depth, 2);
  assert.equal(spans.pricing.depth, 1);
  assert.deepEqual(spans["POST /orders"].children.sort(), [spans["db.query"].span_id, spans.pricing.span_id].sort());
  assert.equal(spans["db.query"].tags.table, "orders");
  assert.ok(spans["db.commit"].duration_ms >= 1, `db.commit lasted ${spans["db.commit"].duration_ms} ms`);

  const logs = await eventually("the log record", async () => {
    const { body } = await getJson(deployment.url, "/api/v1/logs", { service, trace_id: traceId, start: String(startMs) });
    return body.logs?.length === 1 ? body.logs : undefined;
  });
  assert.equal(logs[0].message, "order stored");
  assert.equal(logs[0].span_id, spans["db.query"].span_id);
  assert.deepEqual(logs[0].attributes, { items: "3" });
}

test("metrics, spans and logs sent over HTTP arrive", (t) => sendAndFind(t, "http"));

test("metrics, spans and logs sent over Kafka arrive", (t) => sendAndFind(t, "kafka"));
