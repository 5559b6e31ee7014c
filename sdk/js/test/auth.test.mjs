// With API keys: the HTTP transport sends `Authorization: Bearer <key>`; without a key perfpulse
// refuses the batch (dropped and counted, not retried forever), with an ingest key it arrives.
// test/run.mjs runs this file last: once the first key exists the API needs one for everything.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";

import { Perfpulse } from "@perfpulse/sdk";

import { PERFPULSE_BIN, counts, eventually, perfpulse, uniqueService } from "./perfpulse.mjs";

/** A new key of `scope`, made by `perfpulse keys create` (through the running API); tried again
 * when the API is too busy to answer the command in time. */
async function createKey(env, scope) {
  const args = ["keys", "create", "--scope", scope, "--name", `js-sdk-${scope}`];
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await promisify(execFile)(PERFPULSE_BIN, args, { env, timeout: 120_000 });
      const lines = stdout.trim().split("\n");
      return lines[lines.length - 1].trim().split(/\s+/).pop();
    } catch (error) {
      if (attempt === 3 || !/timed out/.test(String(error.stderr ?? error.message))) throw error;
    }
  }
}

test("HTTP transport with an ingest key: refused without it, delivered with it", async (t) => {
  const deployment = await perfpulse(t);
  const ingestKey = await createKey(deployment.env, "ingest");
  const readKey = await createKey(deployment.env, "read");
  const startMs = Date.now() - 1000;

  const service = uniqueService("auth");
  const options = { service, exitHooks: false, closeTimeoutMs: 30_000, onError: () => {} };
  const anonymous = new Perfpulse({ ...options, http: { url: deployment.url } });
  anonymous.distribution("auth.latency").observe(1);
  assert.equal(await anonymous.close(), false, "refused: not delivered (and close did not wait for a retry)");
  assert.deepEqual(anonymous.stats().points, { held: 0, sent: 0, dropped: 1 });
  assert.match(anonymous.stats().lastError, /HTTP 401/);

  const keyed = new Perfpulse({ ...options, http: { url: deployment.url, key: ingestKey } });
  keyed.distribution("auth.latency").observe(2);
  assert.equal(await keyed.close(), true);
  assert.deepEqual(keyed.stats().points, { held: 0, sent: 1, dropped: 0 });

  const [series] = await eventually("the keyed point", async () => {
    const found = await counts(deployment.url, "auth.latency", service, startMs, "", readKey);
    return found[0]?.count === 1 ? found : undefined;
  });
  assert.equal(series.sum, 2);
});
