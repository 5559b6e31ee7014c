import { act, render } from "@testing-library/react";
import { FakeSocket } from "./fakeSocket";
import type { LiveState } from "./live";
import { coalescer, LIVE_FALLBACK_MS, REFRESH_GAP_MS, useAutoRefresh, useRefreshTick } from "./refresh";

function setVisible(state: "visible" | "hidden"): void {
  Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}

/** The app's refresh for ``token``: shows the feed's state and the tick, as the top bar and a view would. */
function Probe({ token, keyed = "pp_read", blocked = false }: { token: string; keyed?: string | null; blocked?: boolean }) {
  const live: LiveState | null = useAutoRefresh(token, keyed, blocked, FakeSocket);
  const tick = useRefreshTick();
  return <output data-state={live ?? "none"} data-tick={tick} />;
}

function shown(container: HTMLElement): { state: string; tick: number } {
  const out = container.querySelector("output")!;
  return { state: out.dataset.state!, tick: Number(out.dataset.tick) };
}

describe("coalescer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    setVisible("visible");
  });
  afterEach(() => vi.useRealTimers());

  it("refreshes at once, then at most once per gap however much news comes", () => {
    const refresh = vi.fn();
    const { news, dispose } = coalescer(refresh, REFRESH_GAP_MS);
    news();
    expect(refresh).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 20; i += 1) news(); // a burst
    expect(refresh).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(REFRESH_GAP_MS - 1);
    expect(refresh).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(refresh).toHaveBeenCalledTimes(2); // the burst, once
    vi.advanceTimersByTime(10 * REFRESH_GAP_MS);
    expect(refresh).toHaveBeenCalledTimes(2);
    dispose();
  });

  it("refreshes nothing while the tab is hidden, and once when it is shown again", () => {
    const refresh = vi.fn();
    const { news, dispose } = coalescer(refresh, REFRESH_GAP_MS);
    setVisible("hidden");
    news();
    news();
    vi.advanceTimersByTime(5 * REFRESH_GAP_MS);
    expect(refresh).not.toHaveBeenCalled();
    setVisible("visible");
    expect(refresh).toHaveBeenCalledTimes(1);
    setVisible("hidden");
    setVisible("visible"); // no news meanwhile: no refresh
    expect(refresh).toHaveBeenCalledTimes(1);
    dispose();
  });

  it("drops a pending refresh when disposed", () => {
    const refresh = vi.fn();
    const { news, dispose } = coalescer(refresh, REFRESH_GAP_MS);
    news();
    news();
    dispose();
    vi.advanceTimersByTime(5 * REFRESH_GAP_MS);
    expect(refresh).toHaveBeenCalledTimes(1);
  });
});

describe("useAutoRefresh", () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.useFakeTimers();
    setVisible("visible");
  });
  afterEach(() => vi.useRealTimers());

  it("live: one connection; the tick grows with news, not with time", () => {
    const { container, unmount } = render(<Probe token="live" />);
    expect(FakeSocket.made).toHaveLength(1);
    expect(FakeSocket.made[0]!.url).toBe(`ws://${window.location.host}/api/v1/live?interval_ms=1000`);
    const socket = FakeSocket.made[0]!;
    act(() => socket.frame({ type: "hello", cursor: "3f2a9c01.1" }));
    act(() => socket.frame({ type: "subscribed", ids: ["red", "alerts"] }));
    const start = shown(container);
    expect(start.state).toBe("live");
    act(() => vi.advanceTimersByTime(3 * LIVE_FALLBACK_MS));
    expect(shown(container).tick).toBe(start.tick); // live: no polling
    act(() => socket.frame({ type: "batch", cursor: "3f2a9c01.2", events: [] }));
    act(() => socket.frame({ type: "batch", cursor: "3f2a9c01.3", events: [] }));
    expect(shown(container).tick).toBe(start.tick + 1);
    act(() => vi.advanceTimersByTime(REFRESH_GAP_MS));
    expect(shown(container).tick).toBe(start.tick + 2);
    unmount();
    expect(socket.closed).toBe(1000);
  });

  it("live: polls every 10 s while the feed cannot be reached, and stops polling once it is", () => {
    const { container } = render(<Probe token="live" />);
    act(() => FakeSocket.last().drop()); // handshake refused
    const start = shown(container);
    expect(start.state).toBe("polling");
    act(() => vi.advanceTimersByTime(LIVE_FALLBACK_MS));
    expect(shown(container).tick).toBeGreaterThan(start.tick); // polled (the retry opened a socket too)
    const socket = FakeSocket.last();
    act(() => socket.frame({ type: "hello", cursor: "3f2a9c01.1" }));
    act(() => socket.frame({ type: "subscribed", ids: ["red", "alerts"] }));
    const live = shown(container);
    expect(live.state).toBe("live");
    act(() => vi.advanceTimersByTime(3 * LIVE_FALLBACK_MS));
    expect(shown(container).tick).toBe(live.tick);
  });

  it("opens nothing while the API asks for a key, and polls", () => {
    const { container } = render(<Probe token="live" blocked />);
    expect(FakeSocket.made).toHaveLength(0);
    expect(shown(container).state).toBe("polling");
  });

  it("keeps the timer choices: 5 s polls, off never refreshes, neither opens the feed", () => {
    const { container, rerender } = render(<Probe token="5s" />);
    const start = shown(container);
    expect(start.state).toBe("none");
    act(() => vi.advanceTimersByTime(5_000));
    expect(shown(container).tick).toBe(start.tick + 1);
    rerender(<Probe token="off" />);
    act(() => vi.advanceTimersByTime(60_000));
    expect(shown(container).tick).toBe(start.tick + 1);
    expect(FakeSocket.made).toHaveLength(0);
  });

  it("reconnects with the new key when the key changes", () => {
    const { rerender } = render(<Probe token="live" keyed="pp_one" />);
    rerender(<Probe token="live" keyed="pp_two" />);
    expect(FakeSocket.made.map((s) => [s.protocols[1], s.closed])).toEqual([
      ["bearer.pp_one", 1000],
      ["bearer.pp_two", null],
    ]);
  });
});
