// The HTTP transport sends each batch with an Idempotency-Key of its own and keeps it across the
// retries of that batch (503, 409, no answer), so perfpulse answers a retry of a batch it committed
// from its record instead of storing it twice.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";

import { Perfpulse } from "@perfpulse/sdk";

test("a batch keeps its Idempotency-Key across retries, the next batch gets another", async () => {
  const seen = []; // [key, status answered]
  const answers = [503, 409, 202, 202];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const status = answers[seen.length] ?? 202;
      seen.push([req.headers["idempotency-key"], status]);
      res.writeHead(status, { "content-type": "application/json", "retry-after": "0" });
      res.end(status === 202 ? '{"accepted":1}' : '{"error":"retry","details":[]}');
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const url = `http://127.0.0.1:${server.address().port}`;
    const pp = new Perfpulse({ service: "keys", http: { url }, exitHooks: false, closeTimeoutMs: 10_000 });
    pp.gauge("queue.length").set(1);
    await pp.flush();
    pp.gauge("queue.length").set(2);
    assert.equal(await pp.close(), true, JSON.stringify(pp.stats()));
    assert.equal(seen.length, 4);
    const [first, ...rest] = seen.map(([key]) => key);
    assert.match(first, /^[0-9a-f-]{36}$/);
    assert.deepEqual(rest.slice(0, 2), [first, first]); // the 503 and 409 were retried with its key
    assert.notEqual(rest[2], first);
  } finally {
    server.close();
  }
});
