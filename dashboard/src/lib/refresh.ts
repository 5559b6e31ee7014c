// Auto-refresh: one module owns when views fetch again; views only read the tick through
// useRefreshTick. "Live" (the default) refreshes when the API's live feed says something new was
// stored (lib/live.ts), at most once per REFRESH_GAP_MS, and polls every LIVE_FALLBACK_MS while the
// feed cannot be reached; the other choices poll on a timer. Nothing refreshes while the tab is
// hidden: it catches up once when shown again.
import { useEffect, useState, useSyncExternalStore } from "react";
import { LiveConnection, type LiveState, liveUrl, type SocketFactory } from "./live";

export const LIVE = "live";

export const REFRESH_CHOICES: readonly { label: string; token: string; ms: number }[] = [
  { label: "Live", token: LIVE, ms: 0 },
  { label: "Off", token: "off", ms: 0 },
  { label: "5 s", token: "5s", ms: 5_000 },
  { label: "10 s", token: "10s", ms: 10_000 },
  { label: "30 s", token: "30s", ms: 30_000 },
  { label: "1 min", token: "1m", ms: 60_000 },
];

export const DEFAULT_REFRESH = LIVE;
export const LIVE_FALLBACK_MS = 10_000; // polling while the live feed is down
// A burst of news (several windows stored within a second) is one refresh: the views' queries are
// asked again at most this often.
export const REFRESH_GAP_MS = 1_500;

let tick = 0;
const listeners = new Set<() => void>();

function bump(): void {
  tick += 1;
  for (const listener of listeners) listener();
}

/** Fetch everything again now (the refresh button). */
export const refreshNow = bump;

/** The refresh tick now (outside React: the queries started before the first render). */
export const currentTick = (): number => tick;

function subscribe(onChange: () => void): () => void {
  listeners.add(onChange);
  return () => listeners.delete(onChange);
}

/** A number that grows at every refresh; views put it in their fetch dependencies. */
export function useRefreshTick(): number {
  return useSyncExternalStore(subscribe, currentTick, currentTick);
}

const visible = () => document.visibilityState === "visible";

/** Drive refreshes every ``intervalMs`` (0: never) while the page is visible. */
export function useRefreshTimer(intervalMs: number): void {
  useEffect(() => {
    if (!intervalMs) return;
    const timer = window.setInterval(() => {
      if (visible()) bump();
    }, intervalMs);
    const onVisible = () => {
      if (visible()) bump(); // catch up after the tab was hidden
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [intervalMs]);
}

/** A function to call at each piece of news: calls ``refresh`` at once when the last refresh was at
 * least ``gapMs`` ago, else once at the end of the gap however many came meanwhile; while the page
 * is hidden it only remembers, and refreshes once when shown. ``dispose`` drops a pending refresh. */
export function coalescer(refresh: () => void, gapMs: number): { news: () => void; dispose: () => void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let missed = false; // news while hidden
  const fire = () => {
    timer = null;
    if (!visible()) {
      missed = true;
      return;
    }
    last = Date.now();
    refresh();
  };
  const onVisible = () => {
    if (visible() && missed) {
      missed = false;
      news();
    }
  };
  const news = () => {
    if (!visible()) {
      missed = true;
      return;
    }
    if (timer !== null) return; // already due
    const wait = last + gapMs - Date.now();
    if (wait <= 0) fire();
    else timer = setTimeout(fire, wait);
  };
  document.addEventListener("visibilitychange", onVisible);
  return {
    news,
    dispose: () => {
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}

/** Refresh through the live feed while ``enabled``: one connection, opened with ``key`` (none while
 * the API asks for one, ``blocked``), news coalesced. Returns the feed's state (null: not enabled). */
export function useLiveRefresh(enabled: boolean, key: string | null, blocked: boolean, socket?: SocketFactory): LiveState | null {
  const [state, setState] = useState<LiveState>("connecting");
  const on = enabled && !blocked;
  useEffect(() => {
    if (!on) return;
    const news = coalescer(bump, REFRESH_GAP_MS);
    const connection = new LiveConnection({ url: liveUrl(window.location), key, onNews: news.news, onState: setState, socket });
    connection.start();
    return () => {
      connection.stop();
      news.dispose();
    };
  }, [on, key, socket]);
  if (!enabled) return null;
  return on ? state : "polling";
}

/** The app's auto-refresh for the URL's ``refresh`` token (unknown: off); mounted once. Returns the
 * live feed's state when the choice is live, null otherwise. */
export function useAutoRefresh(token: string, key: string | null, blocked: boolean, socket?: SocketFactory): LiveState | null {
  const live = useLiveRefresh(token === LIVE, key, blocked, socket);
  const choice = REFRESH_CHOICES.find((c) => c.token === token);
  useRefreshTimer(live === null ? (choice?.ms ?? 0) : live === "live" ? 0 : LIVE_FALLBACK_MS);
  return live;
}
