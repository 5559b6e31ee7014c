// An Express app with the middleware shows up in perfpulse with its route template, and its
// server span continues the caller's trace with the handler's spans nested under it.

import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";

import express from "express";

import { perfpulseExpress } from "@perfpulse/sdk/express";

import { httpClient } from "./perfpulse.mjs";
import { checkServerTelemetry, tracedRequest } from "./server.mjs";

test("Express: RED by route template, server spans continuing traceparent", async (t) => {
  const { deployment, service, startMs, pp } = await httpClient(t, "express");

  const app = express();
  app.use(perfpulseExpress(pp));
  const cart = express.Router();
  cart.get("/:id", async (req, res) => {
    await pp.span("load cart", () => new Promise((r) => setTimeout(r, 3)));
    res.json({ id: req.params.id });
  });
  app.use("/cart", cart);
  app.get("/fail", () => {
    throw new Error("broken");
  });
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;

  const trace = await tracedRequest(`${base}/cart/42`);
  for (const id of [7, 8]) assert.equal((await fetch(`${base}/cart/${id}`)).status, 200);
  assert.equal((await fetch(`${base}/fail`)).status, 500);
  assert.equal((await fetch(`${base}/nowhere/at/all`)).status, 404);
  assert.equal(await pp.close(), true);

  await checkServerTelemetry(deployment.url, service, startMs, { "GET /cart/:id 200": 3, "GET /fail 500": 1, "GET unmatched 404": 1 }, {
    ...trace,
    operation: "GET /cart/:id",
    childOperation: "load cart",
  });
});
