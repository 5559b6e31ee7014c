import { hrefKeeping, navigate, parseLocation, patchParams, setParams } from "./router";

describe("view state in the URL", () => {
  it("patches parameters in one canonical order and drops empty ones", () => {
    const params = new URLSearchParams("service=gateway&range=1h");
    expect(patchParams(params, { level: "error,warn", service: null })).toBe("?level=error%2Cwarn&range=1h");
    expect(patchParams(new URLSearchParams(), { q: "" })).toBe("");
  });
  it("carries the range and refresh into links to other views, nothing else", () => {
    const params = new URLSearchParams("range=15m&refresh=off&service=gateway");
    expect(hrefKeeping("/logs", params, { trace: "abc" })).toBe("/logs?range=15m&refresh=off&trace=abc");
  });
  it("writes state into the browser's location so the link reproduces the view", () => {
    navigate("/traces?range=5m");
    setParams({ service: "frontend", min: "200" });
    const here = parseLocation(window.location.pathname + window.location.search);
    expect(here.path).toBe("/traces");
    expect(Object.fromEntries(here.params)).toEqual({ range: "5m", service: "frontend", min: "200" });
  });
});
