import { render } from "@testing-library/react";
import type { HeatmapResult } from "../lib/types";
import { Heatmap } from "./Heatmap";

const heat: HeatmapResult = {
  metric: "http.server.duration",
  start: 0,
  end: 20_000,
  step_ms: 10_000,
  edges: [2, 20, 200],
  times: [0, 10_000],
  counts: [
    [3, 1],
    [0, 7],
  ],
  total: 11,
};

// jsdom lays nothing out: no ResizeObserver, no canvas drawing (the figure's attributes tell what is drawn)
vi.stubGlobal(
  "ResizeObserver",
  class {
    observe() {}
    disconnect() {}
  },
);
HTMLCanvasElement.prototype.getContext = () => null;

describe("Heatmap", () => {
  it("draws a cell per non-empty bucket, labels the value axis and tells the total", () => {
    const { container } = render(<Heatmap title="gateway latency heatmap" heat={heat} xRange={{ start: 0, end: 20_000 }} />);
    const figure = container.querySelector("figure.heatmap")!;
    expect(figure.getAttribute("data-points")).toBe("3");
    expect(figure.getAttribute("data-total")).toBe("11");
    const labels = [...container.querySelectorAll(".heatmap-axis span")].map((s) => s.textContent);
    expect(labels).toEqual(["2 ms", "20 ms", "200 ms"]);
    expect(container.textContent).toContain("11 observations");
    expect(container.querySelector(".chart-empty")).toBeNull();
  });
  it("says so when the range holds nothing", () => {
    const empty = { ...heat, edges: [], times: [], counts: [], total: 0 };
    const { container } = render(<Heatmap title="t" heat={empty} xRange={{ start: 0, end: 20_000 }} />);
    expect(container.querySelector(".chart-empty")?.textContent).toBe("No data in this range");
  });
});
