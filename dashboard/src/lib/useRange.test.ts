import { resolvedRange } from "./useRange";

describe("the shared range resolution", () => {
  afterEach(() => vi.useRealTimers());

  it("resolves a (range, refresh) once: every view and the primed query ask the same start and end", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const first = resolvedRange("5m", 0);
    vi.setSystemTime(1_000_500);
    expect(resolvedRange("5m", 0)).toBe(first);
    expect(first).toMatchObject({ start: 1_000_000 - 300_000, end: 1_000_000, tick: 0 });
  });

  it("resolves again at a refresh or for another range, at the time then", () => {
    vi.useFakeTimers({ now: 2_000_000 });
    resolvedRange("5m", 0);
    vi.setSystemTime(2_010_000);
    expect(resolvedRange("5m", 1)).toMatchObject({ start: 2_010_000 - 300_000, end: 2_010_000, tick: 1 });
    expect(resolvedRange("15m", 1)).toMatchObject({ start: 2_010_000 - 900_000, end: 2_010_000 });
    expect(resolvedRange(null, 1)).toMatchObject({ start: 2_010_000 - 900_000 }); // the default: 15 minutes
  });
});
