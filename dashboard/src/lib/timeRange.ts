// The time range every view reads: relative ("last 1 h", moving with now) or absolute (from a
// custom choice or a drag-zoom on a chart), and the bucket step a chart asks the API for.

export type TimeRange =
  | { kind: "relative"; lastMs: number } // [now - lastMs, now)
  | { kind: "absolute"; start: number; end: number }; // epoch ms, end exclusive

export interface Preset {
  label: string;
  token: string; // as written in the URL: range=1h
  ms: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const PRESETS: readonly Preset[] = [
  { label: "Last 5 minutes", token: "5m", ms: 5 * MINUTE },
  { label: "Last 15 minutes", token: "15m", ms: 15 * MINUTE },
  { label: "Last 30 minutes", token: "30m", ms: 30 * MINUTE },
  { label: "Last 1 hour", token: "1h", ms: HOUR },
  { label: "Last 3 hours", token: "3h", ms: 3 * HOUR },
  { label: "Last 6 hours", token: "6h", ms: 6 * HOUR },
  { label: "Last 12 hours", token: "12h", ms: 12 * HOUR },
  { label: "Last 24 hours", token: "24h", ms: DAY },
  { label: "Last 2 days", token: "2d", ms: 2 * DAY },
  { label: "Last 7 days", token: "7d", ms: 7 * DAY },
  { label: "Last 30 days", token: "30d", ms: 30 * DAY },
];

export const DEFAULT_RANGE: TimeRange = { kind: "relative", lastMs: 15 * MINUTE };

const UNIT_MS: Record<string, number> = { s: 1000, m: MINUTE, h: HOUR, d: DAY };

/** Parse a range as written in the URL: "15m" (relative) or "1733212800000-1733216400000" (absolute). */
export function parseRange(text: string | null | undefined): TimeRange | null {
  if (!text) return null;
  const relative = /^(\d+)([smhd])$/.exec(text);
  if (relative) {
    const ms = Number(relative[1]) * (UNIT_MS[relative[2] as string] as number);
    return ms > 0 && ms <= 30 * DAY ? { kind: "relative", lastMs: ms } : null;
  }
  const absolute = /^(\d{10,14})-(\d{10,14})$/.exec(text);
  if (absolute) {
    const start = Number(absolute[1]);
    const end = Number(absolute[2]);
    return end > start ? { kind: "absolute", start, end } : null;
  }
  return null;
}

/** The inverse of {@link parseRange}. */
export function serializeRange(range: TimeRange): string {
  if (range.kind === "absolute") return `${Math.round(range.start)}-${Math.round(range.end)}`;
  for (const unit of ["d", "h", "m", "s"]) {
    const size = UNIT_MS[unit] as number;
    if (range.lastMs % size === 0) return `${range.lastMs / size}${unit}`;
  }
  return `${Math.round(range.lastMs / 1000)}s`;
}

/** The absolute [start, end) of a range at ``now``. */
export function resolveRange(range: TimeRange, now: number): { start: number; end: number } {
  if (range.kind === "absolute") return { start: range.start, end: range.end };
  return { start: now - range.lastMs, end: now };
}

/** A label for the picker's button. */
export function describeRange(range: TimeRange): string {
  if (range.kind === "relative") {
    const preset = PRESETS.find((p) => p.ms === range.lastMs);
    return preset ? preset.label : `Last ${serializeRange(range)}`;
  }
  const fmt = (ms: number) =>
    new Date(ms).toLocaleString(undefined, {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    });
  return `${fmt(range.start)} → ${fmt(range.end)}`;
}

// Steps a chart may ask for: each a multiple of every window that divides a minute (the API refuses
// a step that is not a multiple of its window), from 10 s up.
const STEPS_MS = [10_000, 30_000, MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, DAY];

/** The smallest step giving at most ``maxPoints`` buckets over ``spanMs`` (at least ``minStepMs``). */
export function chooseStep(spanMs: number, maxPoints = 180, minStepMs = 10_000): number {
  for (const step of STEPS_MS) {
    if (step >= minStepMs && spanMs / step <= maxPoints) return step;
  }
  return STEPS_MS[STEPS_MS.length - 1] as number;
}

/** The step as the API reads it ("30s", "5m"). */
export function stepParam(stepMs: number): string {
  return stepMs % MINUTE === 0 ? `${stepMs / MINUTE}m` : `${stepMs / 1000}s`;
}
