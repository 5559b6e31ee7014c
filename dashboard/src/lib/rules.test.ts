import { bodyOf, durationText, formOf } from "./rules";
import type { Rule } from "./types";

const rule: Rule = {
  name: "gateway_slow",
  condition: "response_time.p95 > 200",
  severity: "critical",
  notification: ["ops", "mail"],
  for_ms: 30_000,
  keep_firing_for_ms: 120_000,
  labels: { team: "edge" },
  annotations: { summary: "p95 {{ $value }} ms", runbook: "https://runbooks/slow" },
  group_by: ["service"],
  window_ms: 60_000,
  line: 3,
};

describe("rule form", () => {
  it("spells durations as the API reads them", () => {
    expect([3_600_000, 120_000, 30_000, 1_500].map(durationText)).toEqual(["1h", "2m", "30s", "1500ms"]);
  });

  it("sends back what the form did not show unchanged", () => {
    const form = { ...formOf(rule), condition: "response_time.p95 > 250" };
    expect(bodyOf(form, rule)).toEqual({
      name: "gateway_slow",
      condition: "response_time.p95 > 250",
      severity: "critical",
      for: "30s",
      notification: ["ops", "mail"],
      group_by: ["service"],
      annotations: { summary: "p95 {{ $value }} ms", runbook: "https://runbooks/slow" },
      labels: { team: "edge" },
      keep_firing_for: "2m",
      window: "1m",
    });
  });

  it("builds a new rule from the fields alone, trimming lists and dropping empty ones", () => {
    const form = { ...formOf(null), name: " errors_high ", condition: "error_rate > 0.01", notification: " ops , ", groupBy: "", summary: "" };
    expect(bodyOf(form, null)).toEqual({ name: "errors_high", condition: "error_rate > 0.01", severity: "warning", for: "1m", notification: ["ops"] });
  });

  it("removes the summary when it is emptied", () => {
    expect(bodyOf({ ...formOf(rule), summary: " " }, rule).annotations).toEqual({ runbook: "https://runbooks/slow" });
  });
});
