// A latency heatmap on a canvas: time across, value buckets up (log scale), each cell shaded by its
// count. Hover names a cell's time, bounds and count; a click hands the cell to ``onPick`` (the
// overview opens the traces of that moment and duration). Redrawn in place on new data: no flicker.
import { memo, useEffect, useMemo, useRef, useState } from "react";
import { formatCount, formatMs, formatTime } from "../lib/format";
import { type Cell, cellAt, edgeTicks, heatCells, shadeColor } from "../lib/heatmap";
import { useTheme } from "../lib/theme";
import type { HeatmapResult } from "../lib/types";

export interface HeatmapProps {
  title: string;
  heat: HeatmapResult | null;
  xRange: { start: number; end: number };
  onPick?: (cell: Cell) => void;
  height?: number;
}

const AXIS_PX = 64; // left margin for the value labels

function HeatmapImpl({ title, heat, xRange, onPick, height = 150 }: HeatmapProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(600);
  const [hover, setHover] = useState<Cell | null>(null);
  const theme = useTheme();
  const plotWidth = Math.max(50, width - AXIS_PX);
  const cells = useMemo(
    () => (heat ? heatCells(heat, xRange.start, xRange.end, plotWidth, height) : []),
    [heat, xRange.start, xRange.end, plotWidth, height],
  );

  useEffect(() => {
    const el = canvas.current?.parentElement;
    if (!el) return;
    const resize = new ResizeObserver(() => setWidth(el.clientWidth));
    resize.observe(el);
    setWidth(el.clientWidth || 600);
    return () => resize.disconnect();
  }, []);

  useEffect(() => {
    const el = canvas.current;
    const ctx = el?.getContext("2d");
    if (!el || !ctx) return; // no canvas (a test DOM): the figure's data attributes still tell
    const ratio = window.devicePixelRatio || 1;
    el.width = plotWidth * ratio;
    el.height = height * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, plotWidth, height);
    for (const c of cells) {
      ctx.fillStyle = shadeColor(c.shade, theme === "dark");
      ctx.fillRect(c.x, c.y, c.w, c.h);
    }
  }, [cells, plotWidth, height, theme]);

  const ticks = heat ? edgeTicks(heat.edges) : [];
  const rows = heat ? heat.edges.length - 1 : 0;
  return (
    <figure className="chart heatmap" data-chart={title} data-points={cells.length} data-total={heat?.total ?? 0}>
      <figcaption>
        {title} <span className="unit">(ms, count per cell)</span>
      </figcaption>
      <div className="heatmap-body" style={{ height }}>
        <div className="heatmap-axis" style={{ width: AXIS_PX }}>
          {ticks.map((tick) => (
            <span key={tick.index} style={{ bottom: rows ? `${(100 * tick.index) / rows}%` : 0 }}>
              {formatMs(tick.value)}
            </span>
          ))}
        </div>
        <canvas
          ref={canvas}
          style={{ width: plotWidth, height }}
          onMouseMove={(e) => {
            const box = e.currentTarget.getBoundingClientRect();
            setHover(cellAt(cells, e.clientX - box.left, e.clientY - box.top));
          }}
          onMouseLeave={() => setHover(null)}
          onClick={() => hover && onPick?.(hover)}
        />
      </div>
      <div className="heatmap-times small muted" style={{ marginLeft: AXIS_PX }}>
        <span>{formatTime(xRange.start)}</span>
        <span>{formatTime((xRange.start + xRange.end) / 2)}</span>
        <span>{formatTime(xRange.end)}</span>
      </div>
      <div className="heatmap-legend small muted">
        {hover
          ? `${formatTime(hover.t)} · ${formatMs(hover.lo)} – ${formatMs(hover.hi)} · ${formatCount(hover.count)} requests${onPick ? " · click for its traces" : ""}`
          : heat
            ? `${formatCount(heat.total)} observations; pale: few, strong: many (log scale)`
            : ""}
      </div>
      {heat && cells.length === 0 && <div className="chart-empty">No data in this range</div>}
    </figure>
  );
}

export const Heatmap = memo(HeatmapImpl);
