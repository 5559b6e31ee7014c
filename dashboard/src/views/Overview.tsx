// The overview: service health grid, response-time gauges and lines per service against the spec's
// targets, request rate and error rate over time, tasks and resources. Each figure is the API's own
// (exact merged percentiles from /api/v1/query); nothing is re-aggregated here.
import { memo, useCallback, useMemo } from "react";
import { Link } from "../App";
import { Gauge } from "../components/Gauge";
import { Heatmap } from "../components/Heatmap";
import { OwnProcesses } from "../components/OwnProcesses";
import { Status } from "../components/Status";
import { TimeSeriesChart } from "../components/TimeSeriesChart";
import { useAfterPaint } from "../lib/afterPaint";
import * as api from "../lib/api";
import { formatBytes, formatCount, formatMs, formatPercent, formatRate } from "../lib/format";
import { judge, redOf, TARGETS } from "../lib/health";
import { hrefKeeping, navigate, setParams, useLocation } from "../lib/router";
import { bucketStarts, colorFor, column, groupValues, newestBucket, openFrom, seriesOf } from "../lib/series";
import { chooseStep, serializeRange } from "../lib/timeRange";
import type { Cell } from "../lib/heatmap";
import type { Alert, QueryResult, ServiceSummary } from "../lib/types";
import { useApi } from "../lib/useApi";
import { type ResolvedRange, useRange } from "../lib/useRange";
import { LATENCY_METRIC, linesQuery } from "./overviewLines";

const fmtMs = (v: number | null) => formatMs(v);
const fmtRate = (v: number | null) => formatRate(v);
const fmtPct = (v: number | null) => formatPercent(v == null ? null : v / 100);

function zoom(start: number, end: number) {
  setParams({ range: serializeRange({ kind: "absolute", start, end }) });
}

/** Open the traces of ``service`` (all when undefined) in the bucket at ``t``. */
function drillTo(t: number, stepMs: number, service?: string) {
  const range = serializeRange({ kind: "absolute", start: t, end: t + stepMs });
  navigate(`/traces?range=${range}${service ? `&service=${encodeURIComponent(service)}` : ""}`);
}

export default function Overview() {
  const r = useRange();
  const { start, end, tick } = r;
  const stepMs = chooseStep(end - start);
  const key = `${start}-${end}-${tick}`;
  // The first chart's query is asked first (effects run in order), and the queries further down the
  // page (tasks, resources, heatmaps) wait for its answer to be painted: a browser opens 6 connections
  // to the API, and 14 queries at once kept the top of the page waiting behind the bottom's.
  // main.tsx sent this one before the first render (views/overviewLines.ts); when its answer is here
  // already, the first render holds it.
  const lines = useApi(
    `lines-${key}-${stepMs}`,
    (signal) => api.queryMetric(linesQuery(r), signal),
    () => api.peekQuery(linesQuery(r)),
  );
  const gauges = useApi(`gauges-${key}`, (signal) =>
    api.queryMetric({ metric: LATENCY_METRIC, start, end, stats: ["p50", "p95", "p99"] }, signal),
  );
  const catalog = useApi(`services-${key}`, (signal) => api.services(start, end, signal));
  const alerts = useApi(`alerts-${tick}`, (signal) => api.alerts(signal));
  const byStatus = useApi(`status-${key}-${stepMs}`, (signal) =>
    api.queryMetric({ metric: LATENCY_METRIC, start, end, stepMs, stats: ["count"], groupBy: "service,status_code" }, signal),
  );
  const services = useMemo(() => groupValues(lines.data, "service"), [lines.data]);
  const x = useMemo(() => bucketStarts(start, end, lines.data?.step_ms ?? stepMs), [start, end, stepMs, lines.data]);
  const lineStep = lines.data?.step_ms ?? stepMs;
  // Read when the answers change (a refresh brings new ones): the buckets still open at that moment.
  const openAt = useMemo(() => openFrom(x, lineStep, end, Date.now(), newestBucket(lines.data, "rate")), [x, lineStep, end, lines.data]);
  const gaugeQuery = `/api/v1/query?metric=${LATENCY_METRIC}&start=${start}&end=${end}&stats=p50,p95,p99&group_by=service`;
  // The heatmaps and everything under them wait for the lines to be painted (lib/afterPaint.ts).
  const below = useAfterPaint(lines.data !== null || lines.error !== null);
  return (
    <div className="overview" data-below={below ? "mounted" : "waiting"}>
      <section>
        <h2>Service health</h2>
        <Status loading={catalog.loading && !catalog.data} error={catalog.error} empty={catalog.data?.services.length === 0 && "No service has sent anything in this range."} />
        <HealthGrid services={catalog.data?.services ?? []} alerts={alerts.data?.alerts ?? []} />
      </section>
      <section>
        <h2>
          Response time <span className="muted">{LATENCY_METRIC}, targets p50 &lt; 50 ms · p95 &lt; 200 ms · p99 &lt; 500 ms</span>
        </h2>
        <Status loading={lines.loading && !lines.data} error={lines.error ?? gauges.error} empty={lines.data?.series.length === 0 && `No ${LATENCY_METRIC} in this range.`} />
        <div className="latency-grid">
          {services.map((service) => (
            <LatencyRow
              key={service}
              service={service}
              gauges={gauges.data}
              lines={lines.data}
              x={x}
              r={r}
              stepMs={lines.data?.step_ms ?? stepMs}
              gaugeQuery={`${gaugeQuery}`}
            />
          ))}
        </div>
      </section>
      <section>
        <h2>
          Latency heatmap <span className="muted">{LATENCY_METRIC}: requests per time and duration bucket, from the stored histograms</span>
        </h2>
        <div className="heatmap-grid">
          {below && services.map((service) => <ServiceHeatmap key={service} service={service} r={r} />)}
        </div>
      </section>
      <section className="two-up">
        <RateChart lines={lines.data} services={services} x={x} r={r} stepMs={lineStep} openAt={openAt} />
        <ErrorChart byStatus={byStatus.data} services={services} x={x} r={r} stepMs={lineStep} openAt={openAt} />
      </section>
      {below && <TasksAndResources r={r} stepMs={stepMs} />}
    </div>
  );
}

const HealthGrid = memo(function HealthGrid({ services, alerts }: { services: ServiceSummary[]; alerts: Alert[] }) {
  const { params } = useLocation();
  return (
    <div className="health-grid">
      {services.map((s) => {
        const verdict = judge(s, alerts);
        const red = redOf(s);
        return (
          <div key={s.service} className={`health-card health-${verdict.health}`} data-service={s.service} data-health={verdict.health}>
            <div className="health-head">
              <span className="dot" /> <strong>{s.service}</strong> <span className="health-word">{verdict.health}</span>
            </div>
            <dl>
              <dt>rate</dt>
              <dd>{formatRate(red?.rate)}</dd>
              <dt>errors</dt>
              <dd>{formatPercent(red?.error_rate)}</dd>
              <dt>p95</dt>
              <dd>{formatMs(red?.p95)}</dd>
            </dl>
            <ul className="health-reasons">
              {verdict.reasons.length ? (
                verdict.reasons.map((reason) => <li key={reason}>{reason}</li>)
              ) : (
                <li>{red ? `from ${s.red ? LATENCY_METRIC : `${s.span_red?.basis} spans`}` : "no requests"}</li>
              )}
            </ul>
            <div className="health-links">
              <Link href={hrefKeeping("/traces", params, { service: s.service })}>traces</Link>
              <Link href={hrefKeeping("/logs", params, { service: s.service })}>logs</Link>
            </div>
          </div>
        );
      })}
    </div>
  );
});

interface RowProps {
  service: string;
  gauges: QueryResult | null;
  lines: QueryResult | null;
  x: number[];
  r: ResolvedRange;
  stepMs: number;
  gaugeQuery: string;
}

const LatencyRow = memo(function LatencyRow({ service, gauges, lines, x, r, stepMs, gaugeQuery }: RowProps) {
  const point = seriesOf(gauges, "service", service)?.points[0];
  const s = seriesOf(lines, "service", service);
  const chartSeries = useMemo(
    () => [
      { label: "p50", values: column(s, "p50", x), color: "#59a14f" },
      { label: "p95", values: column(s, "p95", x), color: "#f28e2b" },
      { label: "p99", values: column(s, "p99", x), color: "#e15759" },
    ],
    [s, x],
  );
  const onPick = useCallback((t: number) => drillTo(t, stepMs, service), [stepMs, service]);
  return (
    <div className="latency-row" data-service={service}>
      <div className="gauges">
        <h3>{service}</h3>
        <div className="gauge-row">
          <Gauge label="p50" valueMs={point?.p50 ?? null} targetMs={TARGETS.p50Ms} query={gaugeQuery} />
          <Gauge label="p95" valueMs={point?.p95 ?? null} targetMs={TARGETS.p95Ms} query={gaugeQuery} />
          <Gauge label="p99" valueMs={point?.p99 ?? null} targetMs={TARGETS.p99Ms} query={gaugeQuery} />
        </div>
      </div>
      <TimeSeriesChart
        title={`${service} response time`}
        unit="ms"
        x={x}
        series={chartSeries}
        format={fmtMs}
        thresholds={[{ value: TARGETS.p95Ms, label: "p95 target 200 ms" }]}
        xRange={r}
        onZoom={zoom}
        onPick={onPick}
      />
    </div>
  );
});

/** Open the traces of ``service`` in a heatmap cell: its time bucket and its duration bounds. */
function drillToCell(cell: Cell, stepMs: number, service: string) {
  const range = serializeRange({ kind: "absolute", start: cell.t, end: cell.t + stepMs });
  const min = Math.floor(cell.lo);
  const max = Math.ceil(cell.hi);
  navigate(`/traces?range=${range}&service=${encodeURIComponent(service)}&min=${min}&max=${max}`);
}

const ServiceHeatmap = memo(function ServiceHeatmap({ service, r }: { service: string; r: ResolvedRange }) {
  const { start, end, tick } = r;
  const heat = useApi(`heatmap-${service}-${start}-${end}-${tick}`, (signal) =>
    api.heatmap({ metric: LATENCY_METRIC, service, start, end, buckets: 30 }, signal),
  );
  const stepMs = heat.data?.step_ms ?? 0;
  const onPick = useCallback((cell: Cell) => drillToCell(cell, stepMs, service), [stepMs, service]);
  return (
    <div data-service={service}>
      <Status loading={heat.loading && !heat.data} error={heat.error} />
      <Heatmap title={`${service} latency heatmap`} heat={heat.data} xRange={r} onPick={onPick} />
    </div>
  );
});

interface GridChartProps {
  services: string[];
  x: number[];
  r: ResolvedRange;
  stepMs: number;
  openAt: number | null; // the first open bucket (partial figures), drawn apart
}

const RateChart = memo(function RateChart({ lines, services, x, r, stepMs, openAt }: GridChartProps & { lines: QueryResult | null }) {
  const series = useMemo(
    () => services.map((svc) => ({ label: svc, values: column(seriesOf(lines, "service", svc), "rate", x), color: colorFor(svc, services) })),
    [lines, services, x],
  );
  const onPick = useCallback((t: number) => drillTo(t, stepMs), [stepMs]);
  return (
    <TimeSeriesChart title="Request rate" unit="req/s" x={x} series={series} format={fmtRate} xRange={r} onZoom={zoom} onPick={onPick} openFrom={openAt} />
  );
});

/** Per bucket: the 5xx requests' share of all requests, both counts as the API returned them. */
export function errorPercent(byStatus: QueryResult | null, service: string, x: readonly number[]): (number | null)[] {
  const total = new Map<number, number>();
  const errors = new Map<number, number>();
  for (const s of byStatus?.series ?? []) {
    if (s.group.service !== service) continue;
    const failed = (s.group.status_code ?? "").startsWith("5");
    for (const p of s.points) {
      total.set(p.t, (total.get(p.t) ?? 0) + (p.count ?? 0));
      if (failed) errors.set(p.t, (errors.get(p.t) ?? 0) + (p.count ?? 0));
    }
  }
  return x.map((t) => {
    const n = total.get(t);
    return n ? (100 * (errors.get(t) ?? 0)) / n : null;
  });
}

const ErrorChart = memo(function ErrorChart({ byStatus, services, x, r, stepMs, openAt }: GridChartProps & { byStatus: QueryResult | null }) {
  const series = useMemo(
    () => services.map((svc) => ({ label: svc, values: errorPercent(byStatus, svc, x), color: colorFor(svc, services), fill: true })),
    [byStatus, services, x],
  );
  const onPick = useCallback((t: number) => drillTo(t, stepMs), [stepMs]);
  return (
    <TimeSeriesChart
      title="Error rate (5xx / all requests)"
      unit="%"
      x={x}
      series={series}
      format={fmtPct}
      thresholds={[{ value: 0.1, label: "target 0.1 %" }]}
      xRange={r}
      onZoom={zoom}
      onPick={onPick}
      openFrom={openAt}
    />
  );
});

const GAUGE_CHARTS: { metric: string; title: string; unit: string; format: (v: number | null) => string; scale?: number }[] = [
  { metric: "process.memory.rss_bytes", title: "Memory (RSS)", unit: "bytes", format: (v) => formatBytes(v) },
  { metric: "process.cpu.utilization", title: "CPU utilisation", unit: "%", format: fmtPct, scale: 100 },
  { metric: "ai.task.queue_length", title: "Task queue length", unit: "tasks", format: (v) => formatCount(v) },
  { metric: "ws.connections", title: "WebSocket connections", unit: "connections", format: (v) => formatCount(v) },
];

const TasksAndResources = memo(function TasksAndResources({ r, stepMs }: { r: ResolvedRange; stepMs: number }) {
  const { start, end, tick } = r;
  const key = `${start}-${end}-${tick}-${stepMs}`;
  const tasks = useApi(`tasks-${key}`, (signal) =>
    api.queryMetric({ metric: "ai.task.duration", start, end, stats: ["p50", "p95", "rate"], groupBy: "task_type" }, signal),
  );
  const own = useApi(`resources-${tick}`, (signal) => api.resources(signal));
  return (
    <>
      <section>
        <h2>
          Tasks <span className="muted">ai.task.duration by task type</span>
        </h2>
        <Status loading={tasks.loading && !tasks.data} error={tasks.error} empty={tasks.data?.series.length === 0 && "No task metrics in this range."} />
        <TaskBars result={tasks.data} />
      </section>
      <section>
        <h2>
          Resources <span className="muted">perfpulse's own processes, as each reports itself</span>
        </h2>
        <Status loading={own.loading && !own.data} error={own.error} />
        <OwnProcesses answer={own.data} />
        <h3 className="muted">Monitored services (their process gauges)</h3>
        <div className="two-up">
          {GAUGE_CHARTS.map((c) => (
            <GaugeMetricChart key={c.metric} {...c} r={r} stepMs={stepMs} />
          ))}
        </div>
      </section>
    </>
  );
});

const TaskBars = memo(function TaskBars({ result }: { result: QueryResult | null }) {
  const rows = (result?.series ?? []).map((s) => ({ type: s.group.task_type ?? "?", p50: s.points[0]?.p50 ?? null, p95: s.points[0]?.p95 ?? null, rate: s.points[0]?.rate ?? null }));
  const max = Math.max(1, ...rows.map((row) => row.p95 ?? 0));
  return (
    <table className="bars">
      <thead>
        <tr>
          <th>task type</th>
          <th>execution time p95 (ms)</th>
          <th>p50</th>
          <th>completions</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.type}>
            <td>{row.type}</td>
            <td className="bar-cell">
              <div className="bar" style={{ width: `${(100 * (row.p95 ?? 0)) / max}%` }} />
              <span>{formatMs(row.p95)}</span>
            </td>
            <td>{formatMs(row.p50)}</td>
            <td>{formatRate(row.rate)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
});

function GaugeMetricChart(props: { metric: string; title: string; unit: string; format: (v: number | null) => string; scale?: number; r: ResolvedRange; stepMs: number }) {
  const { metric, title, unit, format, scale = 1, r, stepMs } = props;
  const { start, end, tick } = r;
  const result = useApi(`${metric}-${start}-${end}-${tick}-${stepMs}`, (signal) => api.queryMetric({ metric, start, end, stepMs, stats: ["avg"] }, signal));
  const x = useMemo(() => bucketStarts(start, end, result.data?.step_ms ?? stepMs), [start, end, stepMs, result.data]);
  const names = useMemo(() => groupValues(result.data, "service"), [result.data]);
  const series = useMemo(
    () =>
      names.map((svc) => ({
        label: svc,
        values: column(seriesOf(result.data, "service", svc), "avg", x).map((v) => (v == null ? null : v * scale)),
        color: colorFor(svc, names),
      })),
    [names, result.data, x, scale],
  );
  return <TimeSeriesChart title={`${title} (avg per bucket)`} unit={unit} x={x} series={series} format={format} xRange={r} onZoom={zoom} />;
}
