// The dashboard's one connection to the API's live feed (WS /api/v1/live, README "Live feed"): it
// subscribes to what says that something new was stored (each window's RED figures per service, and
// alert transitions) and reports "news" — it never reads the results themselves, since the views
// fetch their own queries again when told. It keeps its cursor and resumes with it after a
// reconnect, so results stored while it was away still count as news.
//
// States: "connecting" (no answer yet), "live" (subscribed), "polling" (cannot open, or closed:
// the caller polls meanwhile while this retries with backoff, 1 s doubling up to 30 s).

export type LiveState = "connecting" | "live" | "polling";

/** The subscriptions whose events mean "something new was stored". */
export const LIVE_SUBSCRIPTIONS = [
  { id: "red", kind: "services" },
  { id: "alerts", kind: "alerts" },
] as const;

export const LIVE_PATH = "/api/v1/live";
// The server batches at most one frame per interval: news more often than this would only be
// coalesced again on this side.
export const LIVE_INTERVAL_MS = 1_000;
export const RETRY_FIRST_MS = 1_000;
export const RETRY_MAX_MS = 30_000;
const JSON_PROTOCOL = "perfpulse.live.json";
const BEARER_PROTOCOL = "bearer.";

/** The part of the browser's WebSocket this module uses (a test passes its own class). */
export interface SocketLike {
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = new (url: string, protocols: string[]) => SocketLike;

export interface LiveOptions {
  url: string; // ws:// or wss:// URL of the live feed
  key: string | null; // the API key, sent as the subprotocol bearer.<key> (browsers cannot set headers)
  onNews: () => void; // something new was stored (or may have been missed): fetch again
  onState: (state: LiveState) => void;
  socket?: SocketFactory; // default: the browser's WebSocket
}

/** The live feed's URL for a page served from ``location`` (same host, ws or wss). */
export function liveUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${LIVE_PATH}?interval_ms=${LIVE_INTERVAL_MS}`;
}

interface Frame {
  type?: unknown;
  cursor?: unknown;
  resumed?: unknown;
}

/** Open, subscribe, report news, and reopen after a close until {@link LiveConnection.stop}. */
export class LiveConnection {
  private socket: SocketLike | null = null;
  private cursor: string | null = null; // the last position seen: sent back as resume
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly options: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  /** Close for good (the choice changed, the key changed, the app unmounted). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "the dashboard stopped listening");
    }
  }

  private open(): void {
    this.options.onState("connecting");
    const protocols = [JSON_PROTOCOL];
    if (this.options.key) protocols.push(BEARER_PROTOCOL + this.options.key);
    const Socket = this.options.socket ?? (WebSocket as unknown as SocketFactory);
    let socket: SocketLike;
    try {
      socket = new Socket(this.options.url, protocols);
    } catch {
      this.retry(); // e.g. a key that cannot be a subprotocol token: polling serves instead
      return;
    }
    this.socket = socket;
    socket.onmessage = (ev) => this.received(ev.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.retry();
    };
  }

  private retry(): void {
    this.options.onState("polling");
    if (this.stopped) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.open();
    }, wait);
  }

  private send(body: unknown): void {
    this.socket?.send(JSON.stringify(body));
  }

  private received(data: unknown): void {
    if (typeof data !== "string") return; // JSON was asked for: binary frames are not ours
    let frame: Frame;
    try {
      frame = JSON.parse(data) as Frame;
    } catch {
      return;
    }
    const cursor = typeof frame.cursor === "string" ? frame.cursor : null;
    switch (frame.type) {
      case "hello":
        // A reconnect keeps the cursor it had: the server replays what followed it.
        this.cursor ??= cursor;
        this.send({ type: "subscribe", subscriptions: LIVE_SUBSCRIPTIONS, ...(this.cursor ? { resume: this.cursor } : {}) });
        return;
      case "subscribed":
        this.retryMs = RETRY_FIRST_MS;
        this.options.onState("live");
        // Could not resume (the API restarted, or too long away): what was missed is reloaded.
        if (frame.resumed === false) this.options.onNews();
        return;
      case "batch":
      case "gap": // results of a stretch may be missing: reload as for news
        if (cursor) this.cursor = cursor;
        this.options.onNews();
        return;
      case "heartbeat":
        if (cursor) this.cursor = cursor;
        this.send({ type: "pong" }); // a client silent for the server's timeout is closed
        return;
      case "error":
        // The server refused the subscription: polling serves, and the retry asks again later.
        this.socket?.close(1000, "subscription refused");
        return;
      default:
        return;
    }
  }
}
