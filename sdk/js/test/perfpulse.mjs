// A real perfpulse for the tests: `perfpulse api` (with the sink, owning its own chDB) and
// `perfpulse worker` on the shared Kafka, with their own data dir, topic prefix and port, and a 1 s
// window. test/run.mjs starts one for the whole run and passes it on in PERFPULSE_TEST_URL and
// PERFPULSE_TEST_TOPIC_PREFIX; a test file run alone starts its own.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { Perfpulse } from "@perfpulse/sdk";

const ROOT = resolve(import.meta.dirname, "../../..");
export const PERFPULSE_BIN = process.env.PERFPULSE_BIN ?? join(ROOT, ".venv/bin/perfpulse");
export const KAFKA = process.env.PERFPULSE_TEST_KAFKA ?? "127.0.0.1:29092";

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitReady(url, processes, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const p of processes) {
      if (p.exitCode !== null) throw new Error(`perfpulse ${p.spawnargs[1]} exited with ${p.exitCode}:\n${tail(p.logPath)}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`perfpulse at ${url} not ready after ${timeoutMs / 1000} s:\n${processes.map((p) => tail(p.logPath)).join("\n")}`);
}

function tail(path) {
  try {
    return readFileSync(path, "utf8").slice(-3000);
  } catch {
    return "";
  }
}

/** Start api + worker; returns { url, topicPrefix, env (of its processes), logs(), stop() }. */
export async function startPerfpulse() {
  const dir = mkdtempSync(join(tmpdir(), "perfpulse-js-"));
  const port = await freePort();
  const topicPrefix = `ppjs-${process.pid}-${Date.now()}.`;
  const env = {
    ...process.env,
    PERFPULSE_KAFKA_BOOTSTRAP: KAFKA,
    PERFPULSE_DATA_DIR: join(dir, "data"),
    PERFPULSE_TOPIC_PREFIX: topicPrefix,
    PERFPULSE_CONSUMER_GROUP: `g-${topicPrefix.slice(0, -1)}`,
    PERFPULSE_API_PORT: String(port),
    PERFPULSE_WINDOW: "1s",
    PERFPULSE_GRACE: "1s",
    PERFPULSE_LOG_FORMAT: "json",
    PERFPULSE_OTLP_PORT: "0", // no OTLP listener of its own: 4318 may be taken
  };
  delete env.PERFPULSE_HEALTH_PORT;
  if (process.env.PERFPULSE_TEST_REDIS) env.PERFPULSE_REDIS_URL = process.env.PERFPULSE_TEST_REDIS;
  const start = (command) => {
    const logPath = join(dir, `${command}.log`);
    const out = openSync(logPath, "a");
    // cwd: the stream worker keeps its local state in its working directory.
    const child = spawn(PERFPULSE_BIN, [command], { cwd: dir, env, stdio: ["ignore", out, out] });
    child.logPath = logPath;
    return child;
  };
  const url = `http://127.0.0.1:${port}`;
  const processes = [];
  try {
    // Topics (with the partition layout the stream stage needs) and tables first: a consumer that
    // came first would have the broker create its topic with the default layout.
    const migrate = start("migrate");
    const [code] = await once(migrate, "exit");
    if (code !== 0) throw new Error(`perfpulse migrate exited with ${code}:\n${tail(migrate.logPath)}`);
    processes.push(start("api"));
    await waitReady(url, processes, 180_000);
    processes.push(start("worker"));
    // Tests wait for what they look for; this only lets the worker begin joining its group.
    await new Promise((r) => setTimeout(r, 1000));
  } catch (error) {
    for (const p of processes) p.kill("SIGKILL");
    if (!process.env.PERFPULSE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    await Promise.all(
      processes.map(
        (p) =>
          new Promise((done) => {
            if (p.exitCode !== null) return done();
            const killer = setTimeout(() => p.kill("SIGKILL"), 15_000);
            p.once("exit", () => {
              clearTimeout(killer);
              done();
            });
            p.kill("SIGTERM");
          }),
      ),
    );
    if (!process.env.PERFPULSE_TEST_KEEP) {
      rmSync(dir, { recursive: true, force: true });
      await deleteTopics(topicPrefix);
    }
  };
  return { url, topicPrefix, env, logs: () => processes.map((p) => tail(p.logPath)).join("\n"), stop };
}

/** The perfpulse of this run: the one test/run.mjs started, or one started for this file. */
export async function perfpulse(t) {
  if (process.env.PERFPULSE_TEST_URL) {
    return {
      url: process.env.PERFPULSE_TEST_URL,
      topicPrefix: process.env.PERFPULSE_TEST_TOPIC_PREFIX,
      env: JSON.parse(process.env.PERFPULSE_TEST_ENV),
      logs: () => "",
    };
  }
  const deployment = await startPerfpulse();
  t.after(() => deployment.stop());
  return deployment;
}

/** Delete the run's topics: the shared broker is not to fill up with the partitions of past runs. */
async function deleteTopics(prefix) {
  const { Admin } = await import("@platformatic/kafka"); // seconds to load: only when needed
  const admin = new Admin({ clientId: "perfpulse-js-tests", bootstrapBrokers: [KAFKA], timeout: 30_000 });
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length) await admin.deleteTopics({ topics });
  } catch (error) {
    console.error(`cannot delete topics ${prefix}*: ${error.message}`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** The perfpulse of this run, a fresh service name and a client sending to it over HTTP. */
export async function httpClient(t, what) {
  const deployment = await perfpulse(t);
  const service = uniqueService(what);
  const startMs = Date.now() - 1000;
  const pp = new Perfpulse({ service, http: { url: deployment.url }, exitHooks: false, closeTimeoutMs: 30_000 });
  return { deployment, service, startMs, pp };
}

/** A service name no other test or run uses. */
export function uniqueService(what) {
  return `js-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** GET `path` with `params`; `key`: an API key to send. */
export async function getJson(url, path, params = {}, key = undefined) {
  const query = new URLSearchParams(params).toString();
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  const response = await fetch(`${url}${path}${query ? `?${query}` : ""}`, { headers });
  const body = await response.json();
  return { status: response.status, body };
}

/** Poll `check` (async, returns a value or undefined) until it gives a value; fail after `timeoutMs`. */
export async function eventually(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** Total count of `metric` for `service` since `startMs`, grouped by `groupBy` labels. */
export async function counts(url, metric, service, startMs, groupBy = "", key = undefined) {
  const { status, body } = await getJson(url, "/api/v1/query", {
    metric,
    service,
    start: String(startMs),
    end: String(Date.now() + 60_000),
    stats: "count,sum",
    group_by: groupBy,
  }, key);
  if (status !== 200) throw new Error(`query ${metric}: HTTP ${status} ${JSON.stringify(body)}`);
  return body.series.map((s) => ({
    group: s.group,
    count: s.points.reduce((n, p) => n + (p.count ?? 0), 0),
    sum: s.points.reduce((n, p) => n + (p.sum ?? 0), 0),
  }));
}
