import { bucketStarts, CATCH_UP_MS, newestBucket, openFrom, STORE_LAG_MS } from "./series";
import type { QueryResult } from "./types";

describe("openFrom", () => {
  const step = 10_000;
  it("marks the bucket holding now, and the one whose windows may still be stored, as open", () => {
    const now = 1_000_000 + 2_000; // 2 s into the bucket starting at 1,000,000
    const x = bucketStarts(now - 60_000, now, step);
    expect(x.at(-1)).toBe(1_000_000);
    // the bucket that ended 2 s ago (less than the store lag) is open too
    expect(openFrom(x, step, now, now)).toBe(990_000);
    // once the lag has passed, only the bucket holding now is
    expect(openFrom(x, step, now, 1_000_000 + STORE_LAG_MS)).toBe(1_000_000);
  });

  it("leaves every bucket of a past range complete, except one its end cuts", () => {
    const x = bucketStarts(100_000, 200_000, step);
    expect(openFrom(x, step, 200_000, 10_000_000)).toBeNull();
    const cut = bucketStarts(100_000, 195_000, step);
    expect(openFrom(cut, step, 195_000, 10_000_000)).toBe(190_000);
  });
});

describe("openFrom with the newest bucket holding data", () => {
  const step = 10_000;
  const now = 1_000_000 + 2_000;
  const x = bucketStarts(now - 300_000, now, step);

  it("marks it open while it ended less than a minute ago (the pipeline behind, still filling it)", () => {
    expect(openFrom(x, step, now, now, 950_000)).toBe(950_000);
  });

  it("leaves it complete once it ended longer ago (a service that stopped sending)", () => {
    expect(openFrom(x, step, now, now, now - CATCH_UP_MS - step)).toBe(990_000);
  });

  it("is read from the series' points", () => {
    const result: QueryResult = {
      metric: "m",
      start: 0,
      end: 1,
      step_ms: step,
      series: [
        { group: { service: "a" }, points: [{ t: 10, rate: 1 }, { t: 20, rate: null }] },
        { group: { service: "b" }, points: [{ t: 15, rate: 2 }] },
      ],
    };
    expect(newestBucket(result, "rate")).toBe(15);
    expect(newestBucket(null, "rate")).toBeNull();
  });
});
