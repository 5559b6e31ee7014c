import { alertLines, judge } from "./health";
import type { Alert, ServiceSummary } from "./types";

function alert(rule: string, state: Alert["state"], instance: string, severity = "warning"): Alert {
  return {
    fingerprint: `${rule}-${instance}`,
    rule,
    state,
    severity,
    since: 0,
    value: 1,
    labels: { service: "gateway", instance },
    group: { service: "gateway", instance },
    annotations: {},
    silenced_by: [],
    inhibited_by: null,
  };
}

const gateway: ServiceSummary = {
  service: "gateway",
  metrics: 1,
  points: 100,
  last_seen: 0,
  red: { requests: 100, rate: 10, errors: 0, error_rate: 0, p50: 10, p95: 20, p99: 30 },
  span_red: null,
};

describe("alertLines", () => {
  it("gives one line per rule with its instances counted by state, firing first", () => {
    const alerts = [
      alert("p95_slow", "pending", "a"),
      alert("p95_slow", "firing", "b"),
      alert("p95_slow", "firing", "c"),
      alert("errors_high", "firing", "a"),
    ];
    expect(alertLines(alerts)).toEqual(["alert errors_high: 1 firing", "alert p95_slow: 2 firing, 1 pending"]);
  });
});

describe("judge", () => {
  it("lists a rule firing for 5 instances once, and a critical one makes the service failing", () => {
    const alerts = ["a", "b", "c", "d", "e"].map((i) => alert("p95_slow", "firing", i, "critical"));
    const verdict = judge(gateway, alerts);
    expect(verdict.reasons).toEqual(["alert p95_slow: 5 firing"]);
    expect(verdict.health).toBe("failing");
  });

  it("leaves out silenced and resolved instances", () => {
    const muted = { ...alert("p95_slow", "firing", "a"), silenced_by: ["s1"] };
    const verdict = judge(gateway, [muted, alert("p95_slow", "resolved", "b")]);
    expect(verdict).toEqual({ health: "healthy", reasons: [] });
  });
});
