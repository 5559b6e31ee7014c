// The range every view shows, from the URL's ``range`` parameter, resolved to absolute times at each
// refresh (a relative range moves with now; an absolute one stays put).
import { useMemo } from "react";
import { useRefreshTick } from "./refresh";
import { useLocation } from "./router";
import { DEFAULT_RANGE, parseRange, resolveRange, type TimeRange } from "./timeRange";

export interface ResolvedRange {
  range: TimeRange;
  start: number; // epoch ms, inclusive
  end: number; // epoch ms, exclusive
  tick: number; // the refresh that resolved it
}

export function useRange(): ResolvedRange {
  const { params } = useLocation();
  const text = params.get("range");
  const tick = useRefreshTick();
  return useMemo(() => {
    const range = parseRange(text) ?? DEFAULT_RANGE;
    return { range, ...resolveRange(range, Date.now()), tick };
  }, [text, tick]);
}
