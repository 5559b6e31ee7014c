// `npm test`: one perfpulse for the whole run, then `node --test` on every test file.

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";

import { startPerfpulse } from "./perfpulse.mjs";

const dir = import.meta.dirname;
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(dir).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => resolve(dir, f));

const deployment = await startPerfpulse();
let code = 1;
try {
  const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...files], {
    stdio: "inherit",
    env: { ...process.env, PERFPULSE_TEST_URL: deployment.url, PERFPULSE_TEST_TOPIC_PREFIX: deployment.topicPrefix },
  });
  code = await new Promise((done) => child.on("exit", (c, signal) => done(c ?? (signal ? 1 : 0))));
  if (code !== 0 && process.env.PERFPULSE_TEST_SHOW_LOGS) console.error(deployment.logs());
} finally {
  await deployment.stop();
}
process.exit(code);
