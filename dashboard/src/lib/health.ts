// A service's health from its RED figures and its active alerts. The thresholds are the spec's
// targets: a figure past its target degrades a service; a firing critical alert, or an error rate
// 50× the target, makes it failing.
import type { Alert, Red, ServiceSummary } from "./types";

export type Health = "healthy" | "degraded" | "failing" | "idle";

export const TARGETS = {
  p50Ms: 50,
  p95Ms: 200,
  p99Ms: 500,
  errorRate: 0.001, // 0.1 %
} as const;

const FAILING_ERROR_RATE = 0.05;

export interface HealthVerdict {
  health: Health;
  reasons: string[]; // why it is not healthy, in words
}

/** The figures a service is judged on: its HTTP metric when it has one, its spans otherwise. */
export function redOf(service: ServiceSummary): Red | null {
  return service.red ?? service.span_red;
}

/** Alerts about ``service``: those whose labels name it and that are pending or firing, not muted. */
export function alertsOf(service: string, alerts: readonly Alert[]): Alert[] {
  return alerts.filter(
    (a) => a.labels.service === service && a.state !== "resolved" && a.silenced_by.length === 0 && !a.inhibited_by,
  );
}

/** One line per rule of ``alerts``: its instances counted by state, firing first, e.g. "alert
 * p95_slow: 3 firing, 1 pending" (a rule grouped by instance or path fires once per group). */
export function alertLines(alerts: readonly Alert[]): string[] {
  const byRule = new Map<string, Map<string, number>>();
  for (const a of alerts) {
    const states = byRule.get(a.rule) ?? new Map<string, number>();
    states.set(a.state, (states.get(a.state) ?? 0) + 1);
    byRule.set(a.rule, states);
  }
  return [...byRule.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rule, states]) => {
      const counts = [...states.entries()].sort(([a], [b]) => stateOrder(a) - stateOrder(b)).map(([state, n]) => `${n} ${state}`);
      return `alert ${rule}: ${counts.join(", ")}`;
    });
}

const stateOrder = (state: string) => (state === "firing" ? 0 : state === "pending" ? 1 : 2);

export function judge(service: ServiceSummary, alerts: readonly Alert[]): HealthVerdict {
  const red = redOf(service);
  const mine = alertsOf(service.service, alerts);
  const reasons: string[] = [];
  let failing = false;
  for (const a of mine) if (a.state === "firing" && a.severity === "critical") failing = true;
  reasons.push(...alertLines(mine));
  if (red && red.requests > 0) {
    if (red.error_rate >= FAILING_ERROR_RATE) failing = true;
    if (red.error_rate >= TARGETS.errorRate) reasons.push(`errors ${(red.error_rate * 100).toFixed(2)} % ≥ 0.1 %`);
    if (red.p95 != null && red.p95 >= TARGETS.p95Ms) reasons.push(`p95 ${red.p95.toFixed(0)} ms ≥ 200 ms`);
    if (red.p99 != null && red.p99 >= TARGETS.p99Ms) reasons.push(`p99 ${red.p99.toFixed(0)} ms ≥ 500 ms`);
  }
  if (!red || red.requests === 0) return { health: mine.length ? "degraded" : "idle", reasons };
  return { health: failing ? "failing" : reasons.length ? "degraded" : "healthy", reasons };
}
