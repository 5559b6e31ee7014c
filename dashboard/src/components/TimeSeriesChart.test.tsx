import { render, waitFor } from "@testing-library/react";
import { TimeSeriesChart } from "./TimeSeriesChart";

// uPlot reads the pixel ratio through matchMedia when it loads, before the test's own code runs
vi.hoisted(() => {
  const query = { matches: false, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {} };
  Object.assign(globalThis, { matchMedia: () => query });
});

// jsdom lays nothing out and draws nothing: the figure's attributes and caption tell what is shown
vi.stubGlobal(
  "ResizeObserver",
  class {
    observe() {}
    disconnect() {}
  },
);

// A 2D context that draws nothing and records what was asked of it (method names, in order).
const calls: string[] = [];
const context = new Proxy(
  {},
  {
    get: (_target, name) => (typeof name === "string" && name !== "then" ? (...args: unknown[]) => calls.push(`${name}(${args.length})`) : undefined),
    set: () => true,
  },
);
vi.stubGlobal(
  "Path2D",
  class {
    constructor() {
      return new Proxy(this, { get: () => () => undefined });
    }
  },
);
HTMLCanvasElement.prototype.getContext = (() => context) as unknown as HTMLCanvasElement["getContext"];
beforeEach(() => {
  calls.length = 0;
});

const x = [0, 10_000, 20_000, 30_000];
const series = [{ label: "gateway", values: [5, 6, null, 1], color: "#4e79a7" }];
const format = (v: number | null) => (v == null ? "–" : `${v} req/s`);

describe("TimeSeriesChart", () => {
  it("says in its caption from when the buckets are open, and marks the figure", async () => {
    const { container } = render(
      <TimeSeriesChart title="Request rate" unit="req/s" x={x} series={series} format={format} xRange={{ start: 0, end: 40_000 }} openFrom={30_000} />,
    );
    const figure = container.querySelector("figure.chart") as HTMLElement;
    expect(figure.dataset.openFrom).toBe("30000");
    expect(figure.dataset.points).toBe("3");
    expect(container.querySelector(".open-note")?.textContent).toMatch(/^dashed from .*: window still open, partial$/);
    // drawn apart: a dot on the one open value, over a shaded band
    await waitFor(() => expect(calls.filter((c) => c.startsWith("arc(")).length).toBe(1));
    expect(calls).toContain("fillRect(4)");
  });

  it("has no note when every bucket is complete", async () => {
    const { container } = render(
      <TimeSeriesChart title="Request rate" unit="req/s" x={x} series={series} format={format} xRange={{ start: 0, end: 40_000 }} />,
    );
    expect((container.querySelector("figure.chart") as HTMLElement).dataset.openFrom).toBe("");
    expect(container.querySelector(".open-note")).toBeNull();
    await waitFor(() => expect(calls.some((c) => c.startsWith("stroke("))).toBe(true));
    expect(calls.filter((c) => c.startsWith("arc("))).toEqual([]);
  });
});
