// The performance report's figures: per service, the spec's targets (p50 < 50 ms, p95 < 200 ms,
// p99 < 500 ms, error rate < 0.1 %, > 1,000 req/s) against what the API measured over a range, and
// the change from the previous period of the same length. Figures are the API's (/api/v1/services),
// from http.server.duration, or from the service's spans when it has no such metric.
import { redOf, TARGETS } from "./health";
import type { Red, ServiceSummary } from "./types";

export const MIN_RATE = 1_000; // requests per second the spec expects a service to sustain

export interface ReportLine {
  key: "p50" | "p95" | "p99" | "error_rate" | "rate";
  label: string;
  target: string; // in words: "< 50 ms"
  value: number | null; // measured; null: nothing measured
  previous: number | null; // the previous period's
  met: boolean | null; // null: nothing to judge
  change: number | null; // (value - previous) / previous; null without both
}

const CHECKS: { key: ReportLine["key"]; label: string; target: string; limit: number; below: boolean }[] = [
  { key: "p50", label: "p50 response time", target: "< 50 ms", limit: TARGETS.p50Ms, below: true },
  { key: "p95", label: "p95 response time", target: "< 200 ms", limit: TARGETS.p95Ms, below: true },
  { key: "p99", label: "p99 response time", target: "< 500 ms", limit: TARGETS.p99Ms, below: true },
  { key: "error_rate", label: "error rate", target: "< 0.1 %", limit: TARGETS.errorRate, below: true },
  { key: "rate", label: "throughput", target: "> 1,000 req/s", limit: MIN_RATE, below: false },
];

function figure(red: Red | null, key: ReportLine["key"]): number | null {
  if (!red || red.requests === 0) return null;
  return red[key] ?? null;
}

/** The report lines of one service, ``previous`` being its summary over the period before (if any). */
export function reportLines(current: ServiceSummary, previous: ServiceSummary | undefined): ReportLine[] {
  const now = redOf(current);
  const before = previous ? redOf(previous) : null;
  return CHECKS.map(({ key, label, target, limit, below }) => {
    const value = figure(now, key);
    const old = figure(before, key);
    return {
      key,
      label,
      target,
      value,
      previous: old,
      met: value == null ? null : below ? value < limit : value > limit,
      change: value == null || old == null || old === 0 ? null : (value - old) / old,
    };
  });
}

/** "+12.5 %", "−3.0 %", "–" (no figure to compare). */
export function formatChange(change: number | null): string {
  if (change == null) return "–";
  const percent = (change * 100).toFixed(1);
  return change > 0 ? `+${percent} %` : `${percent.replace("-", "−")} %`;
}
