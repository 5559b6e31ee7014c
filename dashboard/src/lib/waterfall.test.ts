import { layoutWaterfall, rulerTicks } from "./waterfall";
import type { Span, TraceDetail } from "./types";

function span(id: string, parent: string | null, start: number, duration: number, depth: number): Span {
  return {
    span_id: id,
    parent_span_id: parent,
    depth,
    orphan: false,
    children: [],
    service: "gateway",
    operation: `op-${id}`,
    kind: "server",
    status: "ok",
    status_message: "",
    start,
    duration_ms: duration,
    self_ms: 0,
    critical_ms: 0,
    tags: {},
    events: [],
  };
}

// root 0..100 ms calls a (10..40) and b (20..90): b ends last, so the path is root, b, root.
const trace: TraceDetail = {
  trace_id: "t1",
  start: 1000,
  duration_ms: 100,
  span_count: 3,
  error_count: 0,
  services: ["gateway"],
  root_span_id: "root",
  orphans: 0,
  truncated: false,
  critical_path: [
    { span_id: "root", service: "gateway", operation: "op-root", start: 1000, duration_ms: 20 },
    { span_id: "b", service: "gateway", operation: "op-b", start: 1020, duration_ms: 70 },
    { span_id: "root", service: "gateway", operation: "op-root", start: 1090, duration_ms: 10 },
  ],
  spans: [span("root", null, 1000, 100, 0), span("a", "root", 1010, 30, 1), span("b", "root", 1020, 70, 1)],
};

describe("layoutWaterfall", () => {
  const rows = layoutWaterfall(trace);

  it("keeps the API's tree order and places bars as fractions of the trace", () => {
    expect(rows.map((r) => r.span.span_id)).toEqual(["root", "a", "b"]);
    expect(rows[1]!.bar).toEqual({ offset: 0.1, width: 0.3 });
    expect(rows[2]!.bar).toEqual({ offset: 0.2, width: 0.7 });
  });

  it("marks exactly the spans on the API's critical path, with the sections it covers", () => {
    expect(rows.map((r) => r.critical)).toEqual([true, false, true]);
    expect(rows[0]!.criticalSections).toEqual([
      { offset: 0, width: 0.2 },
      { offset: 0.9, width: 0.1 },
    ]);
    expect(rows[1]!.criticalSections).toEqual([]);
    expect(rows[2]!.criticalSections).toEqual([{ offset: 0.2, width: 0.7 }]);
  });

  it("clamps a span that overruns the trace to the track", () => {
    const odd = layoutWaterfall({ ...trace, spans: [span("late", null, 1080, 50, 0)], critical_path: [] });
    expect(odd[0]!.bar.offset + odd[0]!.bar.width).toBeCloseTo(1);
  });
});

describe("rulerTicks", () => {
  it("gives round ticks covering the trace", () => {
    expect(rulerTicks(100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(rulerTicks(0)).toEqual([0]);
  });
});
