import { render } from "@testing-library/react";
import { Gauge } from "./Gauge";

describe("Gauge", () => {
  it("shows the API's value with its unit and judges it against the target", () => {
    const { container } = render(<Gauge label="p95" valueMs={212.5} targetMs={200} query="/api/v1/query?x" />);
    const gauge = container.querySelector(".gauge")!;
    expect(gauge.className).toContain("gauge-warn");
    expect(gauge.getAttribute("data-value")).toBe("212.5");
    expect(container.textContent).toContain("213 ms");
    expect(container.textContent).toContain("target < 200 ms");
  });
  it("says there is no value rather than showing zero", () => {
    const { container } = render(<Gauge label="p99" valueMs={null} targetMs={500} />);
    expect(container.querySelector(".gauge-value")!.textContent).toBe("–");
    expect(container.querySelector(".gauge")!.className).toContain("gauge-none");
  });
});
