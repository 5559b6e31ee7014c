// The layout of a trace's waterfall: one row per span in the API's tree order, its bar placed by
// start and duration as fractions of the trace, and the critical path (from the API, never
// recomputed here) marked on the spans it passes through, with the exact sections it covers.
import type { Span, TraceDetail } from "./types";

export interface Segment {
  offset: number; // fraction of the trace's duration from its start, 0..1
  width: number; // fraction of the trace's duration, 0..1
}

export interface WaterfallRow {
  span: Span;
  bar: Segment;
  critical: boolean; // the critical path passes through this span
  criticalSections: Segment[]; // the parts of the bar on the critical path
}

function segment(start: number, durationMs: number, trace: TraceDetail): Segment {
  const total = trace.duration_ms > 0 ? trace.duration_ms : 1;
  const offset = Math.min(1, Math.max(0, (start - trace.start) / total));
  const width = Math.max(0, durationMs / total);
  // Clamp only a real overrun: float noise (0.9 + 0.1) must not shorten a bar that ends the trace.
  return { offset, width: offset + width > 1 + 1e-9 ? 1 - offset : width };
}

export function layoutWaterfall(trace: TraceDetail): WaterfallRow[] {
  const sections = new Map<string, Segment[]>();
  for (const c of trace.critical_path) {
    const list = sections.get(c.span_id) ?? [];
    list.push(segment(c.start, c.duration_ms, trace));
    sections.set(c.span_id, list);
  }
  return trace.spans.map((span) => {
    const criticalSections = sections.get(span.span_id) ?? [];
    return { span, bar: segment(span.start, span.duration_ms, trace), critical: criticalSections.length > 0, criticalSections };
  });
}

/** Time ticks for the waterfall's ruler: about ``count`` round values in ms across the trace. */
export function rulerTicks(durationMs: number, count = 5): number[] {
  if (durationMs <= 0) return [0];
  const raw = durationMs / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = 0; t <= durationMs + 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}
