// The overview's first query, the latency lines: one definition for the view and for main.tsx, which
// sends it before React has rendered anything (lib/api.ts prime), so the first chart's data is on its
// way while the page's code is still being evaluated.
import { type EarlyAnswer, type MetricQuery, prime, queryParams } from "../lib/api";
import { chooseStep } from "../lib/timeRange";
import type { ResolvedRange } from "../lib/useRange";

export const LATENCY_METRIC = "http.server.duration";

/** p50, p95, p99 and rate of every service over ``r``, at the chart's step. */
export function linesQuery({ start, end }: ResolvedRange): MetricQuery {
  return { metric: LATENCY_METRIC, start, end, stepMs: chooseStep(end - start), stats: ["p50", "p95", "p99", "rate"] };
}

/** Send :func:`linesQuery` of ``r`` now (or adopt ``early``, when it asked the same); the overview's
 * first fetch of it takes the answer. */
export function primeLines(r: ResolvedRange, early?: EarlyAnswer): void {
  prime("/api/v1/query", queryParams(linesQuery(r)), early);
}
