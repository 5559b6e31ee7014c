import { FakeSocket } from "./fakeSocket";
import { LiveConnection, type LiveState, liveUrl, RETRY_FIRST_MS } from "./live";

const HELLO = { type: "hello", cursor: "3f2a9c01.7", heartbeat_s: 15, timeout_s: 45, max_subscriptions: 50, resume_s: 300 };

function connect(key: string | null = "pp_read") {
  const states: LiveState[] = [];
  let news = 0;
  const conn = new LiveConnection({
    url: "ws://dash.example/api/v1/live?interval_ms=1000",
    key,
    onNews: () => (news += 1),
    onState: (s) => states.push(s),
    socket: FakeSocket,
  });
  conn.start();
  return { conn, states, news: () => news, socket: FakeSocket.last };
}

describe("LiveConnection", () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it("builds the feed's URL from the page's: ws for http, wss for https", () => {
    expect(liveUrl({ protocol: "http:", host: "127.0.0.1:8080" })).toBe("ws://127.0.0.1:8080/api/v1/live?interval_ms=1000");
    expect(liveUrl({ protocol: "https:", host: "pp.example" })).toBe("wss://pp.example/api/v1/live?interval_ms=1000");
  });

  it("sends the key as a subprotocol, subscribes to RED and alerts, and reports each batch as news", () => {
    const { states, news, socket } = connect();
    expect(socket().protocols).toEqual(["perfpulse.live.json", "bearer.pp_read"]);
    socket().frame(HELLO);
    expect(socket().sent).toEqual([
      {
        type: "subscribe",
        subscriptions: [
          { id: "red", kind: "services" },
          { id: "alerts", kind: "alerts" },
        ],
        resume: "3f2a9c01.7",
      },
    ]);
    socket().frame({ type: "subscribed", ids: ["red", "alerts"], resumed: true, reason: null });
    expect(states).toEqual(["connecting", "live"]);
    expect(news()).toBe(0); // resumed: nothing was missed
    socket().frame({ type: "batch", cursor: "3f2a9c01.9", events: [] });
    socket().frame({ type: "gap", cursor: "3f2a9c01.10", reason: "redis" });
    expect(news()).toBe(2);
  });

  it("offers no bearer subprotocol without a key", () => {
    const { socket } = connect(null);
    expect(socket().protocols).toEqual(["perfpulse.live.json"]);
  });

  it("answers heartbeats with pong, and ignores frames it cannot read", () => {
    const { news, socket } = connect();
    socket().frame(HELLO);
    socket().frame({ type: "heartbeat", cursor: "3f2a9c01.8" });
    socket().frame({}, "{not json");
    socket().frame({}, new ArrayBuffer(4));
    expect(socket().sent[1]).toEqual({ type: "pong" });
    expect(news()).toBe(0);
  });

  it("falls back to polling when it cannot open, retries with doubling backoff, and resumes from its last cursor", () => {
    const { states, news, socket } = connect();
    const first = socket();
    first.frame(HELLO);
    first.frame({ type: "subscribed", ids: ["red", "alerts"] });
    first.frame({ type: "batch", cursor: "3f2a9c01.12", events: [] });
    first.drop(1013);
    expect(states.at(-1)).toBe("polling");
    vi.advanceTimersByTime(RETRY_FIRST_MS - 1);
    expect(FakeSocket.made).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.made).toHaveLength(2);
    socket().drop(); // refused: the next try waits twice as long
    vi.advanceTimersByTime(2 * RETRY_FIRST_MS - 1);
    expect(FakeSocket.made).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.made).toHaveLength(3);
    socket().frame({ ...HELLO, cursor: "3f2a9c01.40" }); // the server moved on; the client resumes from where it was
    expect(socket().sent[0]).toMatchObject({ type: "subscribe", resume: "3f2a9c01.12" });
    socket().frame({ type: "subscribed", ids: ["red", "alerts"], resumed: false, reason: "another stream" });
    expect(states.at(-1)).toBe("live");
    expect(news()).toBe(2); // the batch, then the reload a failed resume asks for
    socket().drop();
    vi.advanceTimersByTime(RETRY_FIRST_MS); // subscribing reset the backoff
    expect(FakeSocket.made).toHaveLength(4);
  });

  it("closes when the server refuses the subscription, and polls meanwhile", () => {
    const { states, socket } = connect();
    socket().frame(HELLO);
    socket().frame({ type: "error", error: "invalid message", details: [] });
    expect(socket().closed).toBe(1000);
    expect(states.at(-1)).toBe("polling");
  });

  it("stops for good: no state change and no retry after stop", () => {
    const { conn, states, socket } = connect();
    conn.stop();
    expect(socket().closed).toBe(1000);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.made).toHaveLength(1);
    expect(states).toEqual(["connecting"]);
  });
});
