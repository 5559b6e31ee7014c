// A gauge of one latency figure against its target: the arc fills up to twice the target, green
// under it, amber up to 1.5×, red past that. The value shown is the API's, unrounded in data-value.
import { memo } from "react";
import { formatMs } from "../lib/format";

export interface GaugeProps {
  label: string; // "p95"
  valueMs: number | null;
  targetMs: number;
  query?: string; // the API request the value came from (for drill-down and checks)
}

function GaugeImpl({ label, valueMs, targetMs, query }: GaugeProps) {
  const ratio = valueMs == null ? 0 : Math.min(1, valueMs / (2 * targetMs));
  const level = valueMs == null ? "none" : valueMs < targetMs ? "ok" : valueMs < 1.5 * targetMs ? "warn" : "bad";
  // A half circle of radius 40 centred at (50, 50): length π·40.
  const length = Math.PI * 40;
  return (
    <div className={`gauge gauge-${level}`} data-stat={label} data-value={valueMs ?? ""} data-query={query}>
      <svg viewBox="0 0 100 58" role="img" aria-label={`${label} ${formatMs(valueMs)}, target under ${formatMs(targetMs)}`}>
        <path d="M10 50 A40 40 0 0 1 90 50" className="gauge-track" />
        <path d="M10 50 A40 40 0 0 1 90 50" className="gauge-fill" strokeDasharray={`${ratio * length} ${length}`} />
        <line x1="50" y1="10" x2="50" y2="4" className="gauge-target" />
      </svg>
      <div className="gauge-value">{formatMs(valueMs)}</div>
      <div className="gauge-label">
        {label} <span className="muted">target &lt; {formatMs(targetMs)}</span>
      </div>
    </div>
  );
}

export const Gauge = memo(GaugeImpl);
