import { formatBytes, formatCount, formatMs, formatPercent, formatRate } from "./format";

describe("formatMs", () => {
  it("keeps three significant digits and picks the unit", () => {
    expect(formatMs(0.42)).toBe("420 µs");
    expect(formatMs(12.345)).toBe("12.3 ms");
    expect(formatMs(199.96)).toBe("200 ms");
    expect(formatMs(1250)).toBe("1.25 s");
    expect(formatMs(90_000)).toBe("1.5 min");
  });
  it("says so when there is no value", () => {
    expect(formatMs(null)).toBe("–");
    expect(formatMs(Number.NaN)).toBe("–");
    expect(formatMs(0)).toBe("0 ms");
  });
});

describe("other units", () => {
  it("formats rates, counts, ratios and bytes with their unit", () => {
    expect(formatRate(312.4)).toBe("312/s");
    expect(formatRate(12_400)).toBe("12.4k/s");
    expect(formatCount(2_500_000)).toBe("2.5M");
    expect(formatPercent(0.0012)).toBe("0.12 %");
    expect(formatPercent(0.5)).toBe("50 %");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(200 * 1024 * 1024)).toBe("200 MiB");
  });
});
