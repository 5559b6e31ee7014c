// Layout of a latency heatmap: the API's cells (/api/v1/heatmap) placed on a canvas, time across and
// value buckets up (equal steps on a log scale, as the API cuts them), shaded by count on a log scale
// so that a slow tail of a few requests still shows beside thousands of fast ones.
import type { HeatmapResult } from "./types";

export interface Cell {
  x: number; // left, px
  y: number; // top, px
  w: number;
  h: number;
  t: number; // time bucket start, epoch ms
  lo: number; // value bucket bounds (lo, hi], the metric's unit
  hi: number;
  count: number;
  shade: number; // 0 (fewest) .. 1 (most): the count on a log scale
}

/** Each non-empty cell of ``heat`` in a ``width`` x ``height`` box spanning ``[start, end)``. */
export function heatCells(heat: HeatmapResult, start: number, end: number, width: number, height: number): Cell[] {
  const rows = heat.edges.length - 1;
  if (rows < 1 || end <= start) return [];
  const most = Math.max(1, ...heat.counts.map((row) => Math.max(0, ...row)));
  const pxPerMs = width / (end - start);
  const h = height / rows;
  const cells: Cell[] = [];
  heat.times.forEach((t, i) => {
    const x = (Math.max(t, start) - start) * pxPerMs;
    const right = (Math.min(t + heat.step_ms, end) - start) * pxPerMs;
    if (right <= 0 || x >= width) return;
    (heat.counts[i] ?? []).forEach((count, j) => {
      if (count <= 0 || j >= rows) return;
      const shade = most === 1 ? 1 : Math.log(count) / Math.log(most);
      const [lo, hi] = [heat.edges[j] as number, heat.edges[j + 1] as number]; // j < rows: both exist
      cells.push({ x, y: height - (j + 1) * h, w: Math.max(1, right - x), h, t, lo, hi, count, shade });
    });
  });
  return cells;
}

/** The cell under the point (px), if any. */
export function cellAt(cells: readonly Cell[], px: number, py: number): Cell | null {
  return cells.find((c) => px >= c.x && px < c.x + c.w && py >= c.y && py < c.y + c.h) ?? null;
}

/** A colour from pale to strong for a shade in [0, 1], on the theme's accent hue. */
export function shadeColor(shade: number, dark: boolean): string {
  const light = dark ? 22 + 48 * shade : 88 - 50 * shade;
  return `hsl(${215 - 195 * shade}, 80%, ${light.toFixed(1)}%)`;
}

/** Value labels for the y axis: about ``count`` of the edges, evenly spaced, lowest first. */
export function edgeTicks(edges: readonly number[], count = 5): { index: number; value: number }[] {
  if (edges.length < 2) return [];
  const stride = Math.max(1, Math.round((edges.length - 1) / (count - 1)));
  const last = edges.length - 1;
  const indexes: number[] = [];
  for (let i = 0; i < last; i += stride) indexes.push(i);
  indexes.push(last);
  return indexes.map((index) => ({ index, value: edges[index] as number }));
}
