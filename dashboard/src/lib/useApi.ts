// Fetching for views: a request per (key, refresh tick); the previous answer stays on screen while
// the next one loads, so a refresh never blanks a chart (no flicker), and a stale answer never
// overwrites a newer one (the older request is aborted).
import { useEffect, useState } from "react";

export interface Fetched<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
}

/** Run ``load`` whenever ``key`` changes (null: nothing to fetch). ``load`` must depend only on what ``key`` spells. */
export function useApi<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null, loading: key !== null });
  useEffect(() => {
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
