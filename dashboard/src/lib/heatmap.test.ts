import { cellAt, edgeTicks, heatCells, shadeColor } from "./heatmap";
import type { HeatmapResult } from "./types";

const heat: HeatmapResult = {
  metric: "http.server.duration",
  start: 0,
  end: 40_000,
  step_ms: 10_000,
  edges: [1, 10, 100, 1000],
  times: [0, 20_000],
  counts: [
    [5, 0, 1],
    [100, 10, 0],
  ],
  total: 116,
};

describe("heatCells", () => {
  it("places every non-empty cell: time across, value buckets up, the lowest at the bottom", () => {
    const cells = heatCells(heat, 0, 40_000, 400, 300);
    expect(cells.map((c) => [c.x, c.y, c.w, c.h, c.count])).toEqual([
      [0, 200, 100, 100, 5],
      [0, 0, 100, 100, 1],
      [200, 200, 100, 100, 100],
      [200, 100, 100, 100, 10],
    ]);
    expect(cells.reduce((n, c) => n + c.count, 0)).toBe(heat.total);
    expect(cells[2]).toMatchObject({ lo: 1, hi: 10, t: 20_000, shade: 1 });
    expect(cells[1]?.shade).toBe(0); // one request: the palest
    expect(cells[3]?.shade).toBeCloseTo(0.5); // 10 of at most 100, on a log scale
  });
  it("clips buckets to the range shown and drops those outside", () => {
    const cells = heatCells(heat, 25_000, 45_000, 200, 30);
    expect(cells.map((c) => [c.x, c.w, c.count])).toEqual([
      [0, 50, 100],
      [0, 50, 10],
    ]);
  });
  it("has nothing to draw without buckets", () => {
    expect(heatCells({ ...heat, edges: [], times: [], counts: [], total: 0 }, 0, 1, 10, 10)).toEqual([]);
  });
});

describe("cellAt", () => {
  it("finds the cell under a point, or none", () => {
    const cells = heatCells(heat, 0, 40_000, 400, 300);
    expect(cellAt(cells, 250, 150)?.count).toBe(10);
    expect(cellAt(cells, 150, 150)).toBeNull();
  });
});

describe("edgeTicks and shadeColor", () => {
  it("labels the lowest and the highest edge and some between", () => {
    const edges = Array.from({ length: 31 }, (_, i) => 2 ** i);
    const ticks = edgeTicks(edges);
    expect(ticks[0]).toEqual({ index: 0, value: 1 });
    expect(ticks[ticks.length - 1]).toEqual({ index: 30, value: 2 ** 30 });
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(ticks.length).toBeLessThanOrEqual(6);
  });
  it("darkens with the count in the light theme and brightens in the dark one", () => {
    expect(shadeColor(0, false)).toBe("hsl(215, 80%, 88.0%)");
    expect(shadeColor(1, false)).toBe("hsl(20, 80%, 38.0%)");
    expect(shadeColor(1, true)).toBe("hsl(20, 80%, 70.0%)");
  });
});
