// Number and time formatting: every figure the dashboard shows goes through here, with its unit.

/** A duration in milliseconds, with a unit that keeps 3 significant digits: 0.42 ms, 12.3 ms, 1.25 s. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs === 0) return "0 ms";
  if (abs < 1) return `${trim(ms * 1000, 3)} µs`;
  if (abs < 1000) return `${trim(ms, 3)} ms`;
  if (abs < 60_000) return `${trim(ms / 1000, 3)} s`;
  if (abs < 3_600_000) return `${trim(ms / 60_000, 3)} min`;
  return `${trim(ms / 3_600_000, 3)} h`;
}

/** A rate per second: 0.5/s, 312/s, 12.4k/s. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond == null || !Number.isFinite(perSecond)) return "–";
  return `${formatCount(perSecond)}/s`;
}

/** A count or any plain quantity with k/M/G suffixes and 3 significant digits. */
export function formatCount(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "–";
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${trim(n / 1e9, 3)}G`;
  if (abs >= 1e6) return `${trim(n / 1e6, 3)}M`;
  if (abs >= 1e3) return `${trim(n / 1e3, 3)}k`;
  return trim(n, 3);
}

/** A ratio (0.0012) as a percentage ("0.12 %"); tiny non-zero ratios keep two significant digits. */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio == null || !Number.isFinite(ratio)) return "–";
  if (ratio === 0) return "0 %";
  return `${trim(ratio * 100, 2)} %`;
}

/** Bytes in binary units: 512 B, 1.5 MiB. */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${trim(value, 3)} ${units[i]}`;
}

/** An epoch-ms instant as local time; the date is added when it is not today. */
export function formatTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  if (new Date(now).toDateString() === d.toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
}

/** An epoch-ms instant with milliseconds, for spans and log lines. */
export function formatTimePrecise(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** "3 min ago"-style age of an instant. */
export function formatAge(ms: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

// Significant digits without trailing zeros or exponent notation (1234.5 -> "1235", 0.000123 -> "0.000123").
function trim(value: number, digits: number): string {
  if (value === 0) return "0";
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return String(Number(value.toFixed(Math.min(decimals, 20))));
}
