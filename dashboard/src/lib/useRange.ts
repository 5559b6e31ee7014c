// The range every view shows, from the URL's ``range`` parameter, resolved to absolute times at each
// refresh (a relative range moves with now; an absolute one stays put).
import { useLocation } from "./router";
import { useRefreshTick } from "./refresh";
import { DEFAULT_RANGE, parseRange, resolveRange, type TimeRange } from "./timeRange";

export interface ResolvedRange {
  range: TimeRange;
  start: number; // epoch ms, inclusive
  end: number; // epoch ms, exclusive
  tick: number; // the refresh that resolved it
}

// The latest resolution, shared: every view (and a query started before React rendered, see
// lib/api.ts prime) reads the same start and end for one (range, refresh), so their requests match.
let latest: { text: string | null; resolved: ResolvedRange } | null = null;

/** ``text`` (the URL's ``range``) resolved at the refresh ``tick``: once per (text, tick), at ``now``
 * of the first ask (default: the time then), the same object for every later ask. */
export function resolvedRange(text: string | null, tick: number, now: number = Date.now()): ResolvedRange {
  if (latest?.text === text && latest.resolved.tick === tick) return latest.resolved;
  const range = parseRange(text) ?? DEFAULT_RANGE;
  latest = { text, resolved: { range, ...resolveRange(range, now), tick } };
  return latest.resolved;
}

export function useRange(): ResolvedRange {
  const { params } = useLocation();
  return resolvedRange(params.get("range"), useRefreshTick());
}
