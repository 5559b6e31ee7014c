// Fetching for views: a request per (key, refresh tick); the previous answer stays on screen while
// the next one loads, so a refresh never blanks a chart (no flicker), and a stale answer never
// overwrites a newer one (the older request is aborted).
import { useEffect, useRef, useState } from "react";

export interface Fetched<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
}

/** Run ``load`` whenever ``key`` changes (null: nothing to fetch). ``load`` must depend only on what ``key`` spells.
 * ``peek``, when given, may hand the first key's answer at once (one already here: lib/api.ts peekQuery), so
 * the first render holds the data and ``load`` is not run for that key. */
export function useApi<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>, peek?: () => T | undefined): Fetched<T> {
  const peeked = useRef<string | null>(null); // the key whose answer the first render took from ``peek``
  const [state, setState] = useState<Fetched<T>>(() => {
    const data = key !== null && peek ? peek() : undefined;
    if (data === undefined) return { data: null, error: null, loading: key !== null };
    peeked.current = key;
    return { data, error: null, loading: false };
  });
  useEffect(() => {
    if (key !== null && key === peeked.current) {
      peeked.current = null;
      return;
    }
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => (s.loading ? s : { ...s, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), loading: false }));
      },
    );
    return () => controller.abort();
  }, [key]);
  return state;
}
