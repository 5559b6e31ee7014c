// One trace: its waterfall with the critical path highlighted, and the details of the chosen span.
import { memo, useMemo } from "react";
import { Link } from "../App";
import { Status } from "../components/Status";
import * as api from "../lib/api";
import { formatMs, formatTime, formatTimePrecise } from "../lib/format";
import { hrefKeeping, setParams, useLocation } from "../lib/router";
import { colorFor } from "../lib/series";
import type { Span, TraceDetail } from "../lib/types";
import { useApi } from "../lib/useApi";
import { layoutWaterfall, rulerTicks, type WaterfallRow } from "../lib/waterfall";

export default function TraceView({ traceId }: { traceId: string }) {
  const { params } = useLocation();
  const selected = params.get("span");
  const result = useApi(`trace-${traceId}`, (signal) => api.trace(traceId, signal));
  const t = result.data;
  const span = t?.spans.find((s) => s.span_id === selected) ?? null;
  return (
    <div className="trace-view">
      <div className="crumbs">
        <Link href={hrefKeeping("/traces", params)}>Traces</Link> / <code>{traceId}</code>
      </div>
      <Status loading={result.loading && !t} error={result.error} />
      {t && (
        <>
          <div className="trace-head">
            <h2>
              {t.spans[0]?.service}: {t.spans[0]?.operation}
            </h2>
            <span>{formatTime(t.start)}</span>
            <span>duration {formatMs(t.duration_ms)}</span>
            <span>{t.span_count} spans</span>
            <span className={t.error_count ? "error" : ""}>{t.error_count} errors</span>
            <span>services: {t.services.join(", ")}</span>
            {t.orphans > 0 && <span className="warn">{t.orphans} orphan spans (parent not stored)</span>}
            {t.truncated && <span className="warn">truncated: more spans than one answer holds</span>}
            <Link href={hrefKeeping("/logs", params, { trace: t.trace_id })}>logs of this trace</Link>
          </div>
          <p className="legend">
            <span className="swatch critical" /> critical path: the spans that decide the trace's latency ({t.critical_path.length} sections)
          </p>
          <Waterfall trace={t} selected={selected} />
          {span && <SpanDetails span={span} trace={t} />}
        </>
      )}
    </div>
  );
}

const Waterfall = memo(function Waterfall({ trace, selected }: { trace: TraceDetail; selected: string | null }) {
  const rows = useMemo(() => layoutWaterfall(trace), [trace]);
  const ticks = useMemo(() => rulerTicks(trace.duration_ms), [trace.duration_ms]);
  return (
    <div className="waterfall" role="table" aria-label="Trace waterfall">
      <div className="wf-row wf-ruler">
        <div className="wf-label">service: operation</div>
        <div className="wf-track">
          {ticks.map((tick) => (
            <span key={tick} className="wf-tick" style={{ left: `${(100 * tick) / (trace.duration_ms || 1)}%` }}>
              {formatMs(tick)}
            </span>
          ))}
        </div>
        <div className="wf-duration">duration</div>
      </div>
      {rows.map((row) => (
        <WaterfallLine key={row.span.span_id} row={row} services={trace.services} selected={row.span.span_id === selected} />
      ))}
    </div>
  );
});

const WaterfallLine = memo(function WaterfallLine({ row, services, selected }: { row: WaterfallRow; services: string[]; selected: boolean }) {
  const { span, bar } = row;
  const classes = ["wf-row", row.critical ? "critical" : "", span.status === "error" ? "error" : "", selected ? "selected" : ""];
  return (
    <div
      className={classes.join(" ")}
      role="row"
      data-span={span.span_id}
      data-critical={row.critical}
      onClick={() => setParams({ span: selected ? null : span.span_id }, true)}
    >
      <div className="wf-label" style={{ paddingLeft: 8 + span.depth * 14 }} title={`${span.service}: ${span.operation}`}>
        <span className="svc-dot" style={{ background: colorFor(span.service, services) }} />
        <span className="svc">{span.service}</span> {span.operation}
      </div>
      <div className="wf-track">
        <div className="wf-bar" style={{ left: `${bar.offset * 100}%`, width: `max(2px, ${bar.width * 100}%)`, background: colorFor(span.service, services) }} />
        {row.criticalSections.map((c, i) => (
          <div key={i} className="wf-critical" style={{ left: `${c.offset * 100}%`, width: `max(2px, ${c.width * 100}%)` }} />
        ))}
      </div>
      <div className="wf-duration">{formatMs(span.duration_ms)}</div>
    </div>
  );
});

function SpanDetails({ span, trace }: { span: Span; trace: TraceDetail }) {
  return (
    <aside className="span-details" aria-label="Span details">
      <h3>
        {span.service}: {span.operation}
      </h3>
      <dl className="kv">
        <dt>span id</dt>
        <dd>
          <code>{span.span_id}</code>
        </dd>
        <dt>parent</dt>
        <dd>
          <code>{span.parent_span_id ?? "—"}</code>
          {span.orphan && " (not stored)"}
        </dd>
        <dt>kind / status</dt>
        <dd>
          {span.kind} / <span className={span.status === "error" ? "error" : ""}>{span.status}</span> {span.status_message}
        </dd>
        <dt>start</dt>
        <dd>
          {formatTimePrecise(span.start)} (+{formatMs(span.start - trace.start)})
        </dd>
        <dt>duration</dt>
        <dd>{formatMs(span.duration_ms)}</dd>
        <dt>self time</dt>
        <dd>{formatMs(span.self_ms)}</dd>
        <dt>on critical path</dt>
        <dd>{formatMs(span.critical_ms)}</dd>
        {Object.entries(span.tags).map(([k, v]) => (
          <div key={k} className="kv-pair">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {span.events.length > 0 && (
        <>
          <h4>Span logs</h4>
          <ul className="events">
            {span.events.map((e, i) => (
              <li key={i} className={`level-${e.level}`}>
                {formatTimePrecise(e.ts)} [{e.level}] {e.message}
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}
