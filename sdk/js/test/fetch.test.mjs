// The fetch wrapper: a CLIENT span per call under the current span, traceparent sent naming it,
// and http.client.duration by method, status and host, found in a real perfpulse.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";

import { perfpulseFetch } from "@perfpulse/sdk/fetch";

import { counts, eventually, getJson, httpClient } from "./perfpulse.mjs";

test("fetch: client spans, traceparent out, http.client.duration", async (t) => {
  const { deployment, service, startMs, pp } = await httpClient(t, "fetch");

  const received = [];
  const upstream = createServer((req, res) => {
    received.push(req.headers.traceparent);
    res.statusCode = req.url === "/missing" ? 404 : 200;
    res.end("ok");
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  t.after(() => upstream.close());
  const host = `127.0.0.1:${upstream.address().port}`;

  const tracedFetch = perfpulseFetch(pp);
  let traceId;
  await pp.span("checkout", async (root) => {
    traceId = root.traceId;
    assert.equal((await tracedFetch(`http://${host}/price?item=1`)).status, 200);
    assert.equal((await tracedFetch(new Request(`http://${host}/missing`, { method: "POST", body: "x" }))).status, 404);
  });
  await assert.rejects(tracedFetch("http://127.0.0.1:9/refused"));
  assert.equal(await pp.close(), true);

  const groups = await eventually("http.client.duration", async () => {
    const series = await counts(deployment.url, "http.client.duration", service, startMs, "method,status_code,host");
    return series.length === 3 ? series : undefined;
  });
  const found = Object.fromEntries(groups.map((s) => [`${s.group.method} ${s.group.status_code} ${s.group.host}`, s.count]));
  assert.deepEqual(found, { [`GET 200 ${host}`]: 1, [`POST 404 ${host}`]: 1, "GET error 127.0.0.1:9": 1 });

  const trace = await eventually("the trace", async () => {
    const { status, body } = await getJson(deployment.url, `/api/v1/traces/${traceId}`);
    return status === 200 && body.spans.length === 3 ? body : undefined;
  });
  const [root, ...clients] = trace.spans;
  for (const [i, client] of clients.entries()) {
    assert.equal(client.kind, "client");
    assert.equal(client.parent_span_id, root.span_id);
    assert.equal(received[i], `00-${traceId}-${client.span_id}-01`, "the request named its client span");
  }
  assert.equal(clients[1].status, "unset");
});
