// Auto-refresh: one module owns when views fetch again. Today it polls on a timer (paused while the
// tab is hidden); a live feed from the API would replace the timer here and nothing else, since
// views only read the tick through useRefreshTick.
import { useEffect, useSyncExternalStore } from "react";

export const REFRESH_CHOICES: readonly { label: string; token: string; ms: number }[] = [
  { label: "Off", token: "off", ms: 0 },
  { label: "5 s", token: "5s", ms: 5_000 },
  { label: "10 s", token: "10s", ms: 10_000 },
  { label: "30 s", token: "30s", ms: 30_000 },
  { label: "1 min", token: "1m", ms: 60_000 },
];

export const DEFAULT_REFRESH = "10s";

let tick = 0;
const listeners = new Set<() => void>();

function bump(): void {
  tick += 1;
  for (const listener of listeners) listener();
}

/** Fetch everything again now (the refresh button). */
export const refreshNow = bump;

function subscribe(onChange: () => void): () => void {
  listeners.add(onChange);
  return () => listeners.delete(onChange);
}

/** A number that grows at every refresh; views put it in their fetch dependencies. */
export function useRefreshTick(): number {
  return useSyncExternalStore(subscribe, () => tick, () => tick);
}

/** Drive refreshes every ``intervalMs`` (0: never) while the page is visible; mounted once by the app. */
export function useRefreshTimer(intervalMs: number): void {
  useEffect(() => {
    if (!intervalMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") bump();
    }, intervalMs);
    const onVisible = () => {
      if (document.visibilityState === "visible") bump(); // catch up after the tab was hidden
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [intervalMs]);
}
