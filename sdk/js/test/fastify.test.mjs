// A Fastify app with the plugin shows up in perfpulse with its route template, and its server
// span continues the caller's trace with the handler's spans nested under it.

import assert from "node:assert/strict";
import { test } from "node:test";

import Fastify from "fastify";

import { perfpulseFastify } from "@perfpulse/sdk/fastify";

import { httpClient } from "./perfpulse.mjs";
import { checkServerTelemetry, tracedRequest } from "./server.mjs";

test("Fastify: RED by route template, server spans continuing traceparent", async (t) => {
  const { deployment, service, startMs, pp } = await httpClient(t, "fastify");

  const app = Fastify();
  await app.register(perfpulseFastify(pp));
  app.get("/orders/:id", async (request) => {
    await pp.span("load order", () => new Promise((r) => setTimeout(r, 3)));
    return { id: request.params.id };
  });
  app.post("/orders", async (_request, reply) => reply.code(503).send({ error: "down" }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  t.after(() => app.close());
  const base = `http://127.0.0.1:${app.server.address().port}`;

  const trace = await tracedRequest(`${base}/orders/1`);
  assert.equal((await fetch(`${base}/orders/2`)).status, 200);
  assert.equal((await fetch(`${base}/orders`, { method: "POST" })).status, 503);
  assert.equal((await fetch(`${base}/missing`)).status, 404);
  assert.equal(await pp.close(), true);

  await checkServerTelemetry(deployment.url, service, startMs, { "GET /orders/:id 200": 2, "POST /orders 503": 1, "GET unmatched 404": 1 }, {
    ...trace,
    operation: "GET /orders/:id",
    childOperation: "load order",
  });
});
