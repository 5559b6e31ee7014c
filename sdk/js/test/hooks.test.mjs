// Flush on shutdown without close(): a process that simply ends (beforeExit) and one stopped with
// SIGTERM both deliver what they recorded, and the SIGTERM one still exits as Node would.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";

import { counts, eventually, perfpulse, uniqueService } from "./perfpulse.mjs";

const CHILD = `
import { Perfpulse } from "@perfpulse/sdk";
const [url, service, mode] = process.argv.slice(1);
const pp = new Perfpulse({ service, http: { url }, lingerMs: 60_000, closeTimeoutMs: 30_000 });
pp.counter("shutdown.points").add(5);
if (mode === "wait") {
  setInterval(() => {}, 1000);
  console.log("recorded");
}
`;

async function runChild(url, service, mode) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, url, service, mode], {
    cwd: import.meta.dirname,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (mode === "wait") {
    await once(child.stdout, "data");
    child.kill("SIGTERM");
  }
  const [code, signal] = await once(child, "exit");
  return { code, signal };
}

for (const mode of ["end", "wait"]) {
  const how = mode === "end" ? "a process that ends (beforeExit)" : "a process stopped with SIGTERM";
  test(`flush on shutdown: ${how}`, async (t) => {
    const deployment = await perfpulse(t);
    const service = uniqueService(`hooks-${mode}`);
    const startMs = Date.now() - 1000;
    const exit = await runChild(deployment.url, service, mode);
    assert.deepEqual(exit, mode === "end" ? { code: 0, signal: null } : { code: null, signal: "SIGTERM" });
    const [series] = await eventually("the point recorded before shutdown", async () => {
      const found = await counts(deployment.url, "shutdown.points", service, startMs);
      return found[0]?.count === 1 ? found : undefined;
    });
    assert.equal(series.sum, 5);
  });
}
