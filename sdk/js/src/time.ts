/** Wall-clock time in epoch nanoseconds, as bigint, with the monotonic clock's resolution. */

// The wall clock is read once; later times add the monotonic clock's progress, so a span's
// duration is exact and never negative even if the system clock is stepped meanwhile.
const wallAtStartNs = BigInt(Date.now()) * 1_000_000n;
const monoAtStartNs = process.hrtime.bigint();

/** Now, in epoch nanoseconds. */
export function nowNs(): bigint {
  return wallAtStartNs + (process.hrtime.bigint() - monoAtStartNs);
}

/** Epoch nanoseconds as RFC 3339 with nanoseconds (what perfpulse's HTTP envelopes accept whole). */
export function rfc3339(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${fraction}Z`;
}

// Reading the clock costs more than recording a point on some machines (0.25 to 0.65 µs for Date.now()
// on a VM without a fast clock source), so points share one reading per synchronous run of code:
// the first point of a run reads the clock, a microtask forgets it once the run ends.
let cachedMs = 0;
let runNowValid = false;
const forgetRunNow = () => {
  runNowValid = false;
};

/** Now in epoch milliseconds, as read at the start of the current synchronous run of code. */
export function runNowMs(): number {
  if (!runNowValid) {
    cachedMs = Date.now();
    runNowValid = true;
    queueMicrotask(forgetRunNow);
  }
  return cachedMs;
}
