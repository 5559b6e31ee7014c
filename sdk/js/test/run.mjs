// `npm test`: one perfpulse for the whole run, then `node --test` on every test file (or on the
// files given). auth.test.mjs creates the first API key, which closes the API to requests without
// one, so it runs alone after the others (node orders the files of one run itself).

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { basename, resolve } from "node:path";

import { startPerfpulse } from "./perfpulse.mjs";

const dir = import.meta.dirname;
const LAST = "auth.test.mjs";
const files = process.argv.slice(2).length
  ? process.argv.slice(2).map((f) => resolve(f))
  : readdirSync(dir).filter((f) => f.endsWith(".test.mjs")).map((f) => resolve(dir, f));
const groups = [files.filter((f) => basename(f) !== LAST), files.filter((f) => basename(f) === LAST)].filter((g) => g.length);

const deployment = await startPerfpulse();
let code = 0;
try {
  const env = {
    ...process.env,
    PERFPULSE_TEST_URL: deployment.url,
    PERFPULSE_TEST_TOPIC_PREFIX: deployment.topicPrefix,
    PERFPULSE_TEST_ENV: JSON.stringify(deployment.env),
  };
  for (const group of groups) {
    const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...group], { stdio: "inherit", env });
    const exit = await new Promise((done) => child.on("exit", (c, signal) => done(c ?? (signal ? 1 : 0))));
    code ||= exit;
  }
  if (code !== 0 && process.env.PERFPULSE_TEST_SHOW_LOGS) console.error(deployment.logs());
} finally {
  await deployment.stop();
}
process.exit(code);
