// A time-series chart on uPlot: lines or filled areas, a y axis labelled with its unit, drag across
// to zoom the whole page's range, click a point to drill down. New data is handed to the existing
// plot (setData), so a refresh redraws without re-creating the chart: no flicker.
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
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function TimeSeriesChartImpl(props: TimeSeriesChartProps) {
  const { title, unit, x, series, format, thresholds, xRange, onZoom, onPick, height = 180 } = props;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Callbacks go through refs: a new closure each render must not rebuild the chart.
  const callbacks = useRef({ onZoom, onPick, format, thresholds });
  callbacks.current = { onZoom, onPick, format, thresholds };
  const xRangeRef = useRef(xRange);
  xRangeRef.current = xRange;

  const shape = series.map((s) => `${s.label}|${s.color}|${s.fill ? 1 : 0}|${s.dash ? 1 : 0}`).join(",");
  const theme = useTheme();
  const data = useMemo<uPlot.AlignedData>(
    () => [x.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData,
    [x, series],
  );

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
          value: (_u, v) => callbacks.current.format(v),
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
  return (
    <figure className="chart" data-chart={title} data-points={points}>
      <figcaption>
        {title} <span className="unit">({unit})</span>
      </figcaption>
      <div ref={host} className="chart-canvas" />
      {points === 0 && <div className="chart-empty">No data in this range</div>}
    </figure>
  );
}

export const TimeSeriesChart = memo(TimeSeriesChartImpl);
