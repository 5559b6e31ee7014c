// A time-series chart on uPlot: lines or filled areas, a y axis labelled with its unit, drag across
// to zoom the whole page's range, click a point to drill down. New data is handed to the existing
// plot (setData), so a refresh redraws without re-creating the chart: no flicker. Buckets still open
// (``openFrom``) are left out of the lines and drawn dashed over a shaded band, their legend values
// marked "open window": a partial bucket must not read as a dip or a spike.
import { memo, useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useTheme } from "../lib/theme";

export interface ChartSeries {
  label: string;
  values: (number | null)[]; // one per x, null where the API returned no value
  color: string;
  fill?: boolean; // an area rather than a line
  dash?: boolean;
}

export interface TimeSeriesChartProps {
  title: string;
  unit: string; // shown on the y axis: "ms", "req/s", "%"
  x: number[]; // bucket starts, epoch ms
  series: ChartSeries[];
  format: (value: number | null) => string; // tooltip and axis values, with the unit
  thresholds?: { value: number; label: string }[]; // horizontal target lines
  xRange: { start: number; end: number };
  onZoom?: (start: number, end: number) => void;
  onPick?: (t: number) => void;
  height?: number;
  openFrom?: number | null; // epoch ms: buckets starting here or later are still open (partial figures)
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function TimeSeriesChartImpl(props: TimeSeriesChartProps) {
  const { title, unit, x, series, format, thresholds, xRange, onZoom, onPick, height = 180, openFrom = null } = props;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Callbacks go through refs: a new closure each render must not rebuild the chart.
  const callbacks = useRef({ onZoom, onPick, format, thresholds });
  callbacks.current = { onZoom, onPick, format, thresholds };
  const xRangeRef = useRef(xRange);
  xRangeRef.current = xRange;

  const shape = series.map((s) => `${s.label}|${s.color}|${s.fill ? 1 : 0}|${s.dash ? 1 : 0}`).join(",");
  const theme = useTheme();
  const openIdx = openFrom == null ? -1 : x.findIndex((t) => t >= openFrom);
  const data = useMemo<uPlot.AlignedData>(
    () =>
      [
        x.map((t) => t / 1000),
        ...series.map((s) => (openIdx < 0 ? s.values : s.values.map((v, i) => (i >= openIdx ? null : v)))),
      ] as uPlot.AlignedData,
    [x, series, openIdx],
  );
  // The open buckets' own values, for the dashed segments and the legend (the lines leave them out).
  const open = useRef({ series, openIdx });
  open.current = { series, openIdx };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const axisColor = cssVar("--muted");
    const gridColor = cssVar("--grid");
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true, range: () => [xRangeRef.current.start / 1000, xRangeRef.current.end / 1000] } },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
        {
          label: unit,
          labelSize: 18,
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          size: 64,
          values: (_u, splits) => splits.map((v) => callbacks.current.format(v)),
        },
      ],
      series: [
        { value: (_u, v) => (v == null ? "–" : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false })) },
        ...series.map<uPlot.Series>((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          fill: s.fill ? `${s.color}33` : undefined,
          dash: s.dash ? [4, 4] : undefined,
          spanGaps: false,
          points: { show: false },
          value: (_u, v, sidx, idx) => {
            const { series: all, openIdx: from } = open.current;
            if (idx == null || from < 0 || idx < from) return callbacks.current.format(v);
            return `${callbacks.current.format(all[sidx - 1]?.values[idx] ?? null)} (open window)`;
          },
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, "x") * 1000;
            const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            callbacks.current.onZoom?.(Math.round(from), Math.round(to));
          },
        ],
        draw: [
          (u) => drawOpen(u, open.current.series, open.current.openIdx),
          (u) => {
            const lines = callbacks.current.thresholds ?? [];
            if (!lines.length) return;
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = cssVar("--warn");
            ctx.fillStyle = cssVar("--warn");
            ctx.setLineDash([6, 4]);
            ctx.textAlign = "left"; // uPlot leaves the alignment of its last axis label
            ctx.textBaseline = "bottom";
            ctx.lineWidth = 1;
            ctx.font = `${11 * devicePixelRatio}px sans-serif`;
            for (const line of lines) {
              const y = u.valToPos(line.value, "y", true);
              if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
              ctx.beginPath();
              ctx.moveTo(u.bbox.left, y);
              ctx.lineTo(u.bbox.left + u.bbox.width, y);
              ctx.stroke();
              ctx.fillText(line.label, u.bbox.left + 4, y - 4);
            }
            ctx.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const over = u.over;
    let downAt = 0;
    const onDown = (e: MouseEvent) => {
      downAt = e.clientX;
    };
    const onUp = (e: MouseEvent) => {
      const idx = u.cursor.idx;
      if (Math.abs(e.clientX - downAt) < 3 && idx != null && callbacks.current.onPick) {
        const t = u.data[0][idx];
        if (t != null) callbacks.current.onPick(t * 1000);
      }
    };
    over.addEventListener("mousedown", onDown);
    over.addEventListener("mouseup", onUp);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      over.removeEventListener("mousedown", onDown);
      over.removeEventListener("mouseup", onUp);
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its shape, unit, height or theme change; data flows through setData.
  }, [shape, unit, height, theme]);

  useEffect(() => {
    plot.current?.setData(data, true);
  }, [data, xRange.start, xRange.end]);

  const points = series.reduce((n, s) => n + s.values.filter((v) => v != null).length, 0);
  const openStart = openIdx < 0 ? null : x[openIdx];
  return (
    <figure className="chart" data-chart={title} data-points={points} data-open-from={openStart ?? ""}>
      <figcaption>
        {title} <span className="unit">({unit})</span>
        {openStart != null && (
          <span className="open-note" title="This bucket's windows are still arriving: its figures are partial, so it is drawn apart.">
            dashed from {new Date(openStart).toLocaleTimeString(undefined, { hour12: false })}: window still open, partial
          </span>
        )}
      </figcaption>
      <div ref={host} className="chart-canvas" />
      {points === 0 && <div className="chart-empty">No data in this range</div>}
    </figure>
  );
}

export const TimeSeriesChart = memo(TimeSeriesChartImpl);

/** The open buckets: a shaded band from the first open bucket to the right edge, and each series'
 * values there dashed, joined to its last complete value. */
function drawOpen(u: uPlot, series: readonly ChartSeries[], openIdx: number) {
  if (openIdx < 0) return;
  const xs = u.data[0];
  const left = Math.max(u.bbox.left, u.valToPos(xs[openIdx] as number, "x", true));
  const right = u.bbox.left + u.bbox.width;
  if (left >= right) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.beginPath();
  ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
  ctx.clip(); // a partial value past the complete ones' scale stays inside the plot
  ctx.fillStyle = cssVar("--grid");
  ctx.globalAlpha = 0.5;
  ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
  ctx.globalAlpha = 1;
  ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
  ctx.lineWidth = 1.5 * devicePixelRatio;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.beginPath();
    let drawn = 0;
    for (let i = Math.max(0, openIdx - 1); i < s.values.length; i += 1) {
      const v = s.values[i];
      if (v == null) continue;
      const px = u.valToPos(xs[i] as number, "x", true);
      const py = u.valToPos(v, "y", true);
      if (drawn === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
      drawn += 1;
    }
    ctx.stroke();
    for (let i = openIdx; i < s.values.length; i += 1) {
      const v = s.values[i];
      if (v == null) continue;
      ctx.beginPath();
      ctx.arc(u.valToPos(xs[i] as number, "x", true), u.valToPos(v, "y", true), 2.5 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.restore();
}
