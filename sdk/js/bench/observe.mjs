// Per-call cost of `observe` on a bound distribution, in ns per call, over several runs:
// - call: the observe calls alone (chunks of 10 000, the sender running between chunks);
// - with encoding: everything the client spends per point, the calls plus building batches and
//   encoding them as Kafka `metrics` records (the transport encodes and discards; no I/O).
// `npm run bench [-- runs points]` (defaults: 7 runs of 2 000 000 points).

import { Perfpulse } from "@perfpulse/sdk";
import { metricsRecord } from "@perfpulse/sdk/wire";

const runs = Number(process.argv[2] ?? 7);
const points = Number(process.argv[3] ?? 2_000_000);
const CHUNK = 10_000;

let encodedBytes = 0;
const transport = {
  sendMetrics: async (service, batch) => {
    encodedBytes += metricsRecord(service, batch).value.length;
  },
  sendSpans: async () => {},
  sendLogs: async () => {},
  close: async () => {},
};

const yieldToSender = () => new Promise((resolve) => setImmediate(resolve));

async function run() {
  const pp = new Perfpulse({ service: "bench", transport, exitHooks: false });
  const h = pp.distribution("http.server.duration").bind({ route: "/cart", method: "GET", status_code: "200" });
  let callNs = 0n;
  const started = process.hrtime.bigint();
  for (let done = 0; done < points; done += CHUNK) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) h.observe(i % 1000);
    callNs += process.hrtime.bigint() - t0;
    await yieldToSender();
  }
  await pp.flush();
  const totalNs = process.hrtime.bigint() - started;
  const { sent, dropped } = pp.stats().points;
  await pp.close();
  if (sent !== points || dropped !== 0) throw new Error(`sent ${sent}, dropped ${dropped} of ${points}`);
  return { call: Number(callNs) / points, total: Number(totalNs) / points };
}

await run(); // warm-up
const results = [];
for (let r = 0; r < runs; r++) results.push(await run());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => xs.map((x) => x.toFixed(1)).join(", ");
console.log(`node ${process.version}, ${points} points per run, ${runs} runs`);
console.log(`observe (bound), ns per call:        ${fmt(results.map((r) => r.call))}  median ${median(results.map((r) => r.call)).toFixed(1)}`);
console.log(`with batching and encoding, ns/point: ${fmt(results.map((r) => r.total))}  median ${median(results.map((r) => r.total)).toFixed(1)}`);
console.log(`encoded ${(encodedBytes / ((runs + 1) * points)).toFixed(1)} bytes per point`);
