import { chooseStep, parseRange, resolveRange, serializeRange, stepParam } from "./timeRange";

describe("range in the URL", () => {
  it("round-trips relative and absolute ranges", () => {
    for (const text of ["5m", "1h", "7d", "30d", "1733212800000-1733216400000"]) {
      const range = parseRange(text);
      expect(range).not.toBeNull();
      expect(serializeRange(range!)).toBe(text);
    }
  });
  it("refuses what it cannot read, and ranges past 30 days", () => {
    expect(parseRange("31d")).toBeNull();
    expect(parseRange("soon")).toBeNull();
    expect(parseRange("1733216400000-1733212800000")).toBeNull(); // end before start
  });
  it("resolves a relative range against now and keeps an absolute one", () => {
    expect(resolveRange({ kind: "relative", lastMs: 60_000 }, 1_000_000)).toEqual({ start: 940_000, end: 1_000_000 });
    expect(resolveRange({ kind: "absolute", start: 5, end: 9 }, 1_000_000)).toEqual({ start: 5, end: 9 });
  });
});

describe("chart step", () => {
  it("asks for at most the given number of buckets, in steps the API accepts", () => {
    expect(chooseStep(5 * 60_000)).toBe(10_000);
    expect(chooseStep(60 * 60_000)).toBe(30_000);
    expect(chooseStep(24 * 3_600_000)).toBe(600_000);
    expect(chooseStep(30 * 24 * 3_600_000)).toBe(6 * 3_600_000);
    expect(stepParam(30_000)).toBe("30s");
    expect(stepParam(600_000)).toBe("10m");
  });
});
