import { bucketStarts, openFrom, STORE_LAG_MS } from "./series";

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
