// The performance report: for the page's range, per service, the spec's targets against what was
// measured, met or missed, and the change from the previous period of the same length. Printable
// (the browser's print, or `perfpulse report --out report.pdf`, which prints this page with chromium).
import { memo } from "react";
import { Status } from "../components/Status";
import * as api from "../lib/api";
import { formatMs, formatPercent, formatRate } from "../lib/format";
import { formatChange, type ReportLine, reportLines } from "../lib/report";
import { describeRange } from "../lib/timeRange";
import type { ServiceSummary } from "../lib/types";
import { useApi } from "../lib/useApi";
import { useRange } from "../lib/useRange";

const when = (ms: number) => new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

function shown(line: ReportLine, value: number | null): string {
  if (line.key === "error_rate") return formatPercent(value);
  if (line.key === "rate") return formatRate(value);
  return formatMs(value);
}

export default function Reports() {
  const { range, start, end, tick } = useRange();
  const span = end - start;
  const current = useApi(`report-${start}-${end}-${tick}`, (signal) => api.services(start, end, signal));
  const previous = useApi(`report-prev-${start}-${end}-${tick}`, (signal) => api.services(start - span, start, signal));
  const before = new Map((previous.data?.services ?? []).map((s) => [s.service, s]));
  const ready = current.data !== null && previous.data !== null;
  return (
    <div className="report" data-ready={ready}>
      <section>
        <div className="report-head">
          <h2>Performance report</h2>
          <button type="button" className="no-print" onClick={() => window.print()}>
            Print
          </button>
        </div>
        <p className="muted">
          {range.kind === "relative" ? `${describeRange(range)}: ` : ""}
          {when(start)} to {when(end)}, compared with the period of the same
          length before it (from {when(start - span)}). Targets from the spec: p50 &lt; 50 ms, p95 &lt; 200 ms,
          p99 &lt; 500 ms, error rate &lt; 0.1 %, &gt; 1,000 req/s.
        </p>
        <Status loading={!ready && !current.error && !previous.error} error={current.error ?? previous.error} empty={current.data?.services.length === 0 && "No service sent anything in this range."} />
      </section>
      {ready &&
        current.data?.services.map((s) => <ServiceReport key={s.service} service={s} previous={before.get(s.service)} />)}
    </div>
  );
}

const ServiceReport = memo(function ServiceReport({ service, previous }: { service: ServiceSummary; previous: ServiceSummary | undefined }) {
  const lines = reportLines(service, previous);
  const judged = lines.filter((l) => l.met !== null);
  const met = judged.filter((l) => l.met).length;
  const basis = service.red ? "http.server.duration" : service.span_red ? `its ${service.span_red.basis} spans` : "no requests";
  return (
    <section className="report-service" data-service={service.service}>
      <h3>
        {service.service}{" "}
        <span className="muted">
          {judged.length ? `${met} of ${judged.length} targets met` : "nothing to judge"} · from {basis}
        </span>
      </h3>
      <table className="grid-table">
        <thead>
          <tr>
            <th>figure</th>
            <th>target</th>
            <th>measured</th>
            <th />
            <th>previous period</th>
            <th>change</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => (
            <tr key={line.key} data-line={line.key} data-value={line.value ?? ""} data-met={line.met ?? ""}>
              <td>{line.label}</td>
              <td>{line.target}</td>
              <td>{shown(line, line.value)}</td>
              <td>{line.met === null ? "" : <span className={`pill ${line.met ? "pill-ok" : "pill-firing"}`}>{line.met ? "met" : "missed"}</span>}</td>
              <td>{shown(line, line.previous)}</td>
              <td>{formatChange(line.change)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
});
