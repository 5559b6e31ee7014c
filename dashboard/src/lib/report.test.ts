import { formatChange, reportLines } from "./report";
import type { ServiceSummary } from "./types";

function summary(red: Partial<NonNullable<ServiceSummary["red"]>> | null): ServiceSummary {
  return {
    service: "gateway",
    metrics: 3,
    points: 10,
    last_seen: 0,
    red: red && { requests: 100, rate: 2, errors: 0, error_rate: 0, p50: 10, p95: 100, p99: 300, ...red },
    span_red: null,
  };
}

describe("reportLines", () => {
  it("judges each figure against the spec's target and compares it with the previous period", () => {
    const lines = reportLines(summary({ p50: 60, p95: 150, error_rate: 0.002, rate: 1_500 }), summary({ p50: 40, p95: 200, rate: 1_000 }));
    expect(lines.map((l) => [l.key, l.value, l.met])).toEqual([
      ["p50", 60, false],
      ["p95", 150, true],
      ["p99", 300, true],
      ["error_rate", 0.002, false],
      ["rate", 1_500, true],
    ]);
    expect(lines.map((l) => l.change)).toEqual([0.5, -0.25, 0, null, 0.5]); // error rate was 0: no ratio
  });

  it("judges nothing without requests, and compares nothing without a previous period", () => {
    expect(reportLines(summary(null), undefined).map((l) => [l.value, l.met, l.change])).toEqual(Array(5).fill([null, null, null]));
    expect(reportLines(summary({ rate: 999 }), undefined).find((l) => l.key === "rate")).toMatchObject({ met: false, previous: null, change: null });
  });
});

describe("formatChange", () => {
  it("signs the change", () => {
    expect([0.125, -0.03, 0, null].map(formatChange)).toEqual(["+12.5 %", "−3.0 %", "0.0 %", "–"]);
  });
});
