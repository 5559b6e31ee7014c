// Every view's state lives in the URL (path + query), so a copied link shows the same thing.
// A tiny router over the History API: components read the location through useLocation and change
// it through navigate/setParams; back and forward work because each change is a history entry.
import { useSyncExternalStore } from "react";

export interface Location {
  path: string; // "/traces/4bf9..."; always starts with "/"
  params: URLSearchParams;
}

const CHANGE = "perfpulse:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

// useSyncExternalStore needs a stable snapshot: the href string, parsed by the hook's caller.
const snapshot = () => window.location.pathname + window.location.search;

/** Split "/path?query" into a {@link Location}. */
export function parseLocation(href: string): Location {
  const q = href.indexOf("?");
  const path = q < 0 ? href : href.slice(0, q);
  return { path: path || "/", params: new URLSearchParams(q < 0 ? "" : href.slice(q + 1)) };
}

/** The query string of ``params`` with ``patch`` applied: null, undefined or "" removes a key. */
export function patchParams(params: URLSearchParams, patch: Record<string, string | null | undefined>): string {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(patch)) {
    if (value == null || value === "") next.delete(key);
    else next.set(key, value);
  }
  next.sort(); // one spelling per state: equal states give equal links
  const text = next.toString();
  return text ? `?${text}` : "";
}

/** The current location; re-renders the caller when it changes. */
export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot, snapshot);
  return parseLocation(href);
}

/** Go to ``href`` (a path with an optional query); ``replace`` rewrites the current history entry. */
export function navigate(href: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  window.dispatchEvent(new Event(CHANGE));
}

/** Change some query parameters of the current location, keeping the path and the others. */
export function setParams(patch: Record<string, string | null | undefined>, replace = false): void {
  const current = parseLocation(snapshot());
  navigate(current.path + patchParams(current.params, patch), replace);
}

/** A link's href: ``path`` with the parameters every view shares (range, refresh) carried over. */
export function hrefKeeping(path: string, params: URLSearchParams, extra: Record<string, string | null> = {}): string {
  const kept = new URLSearchParams();
  for (const key of ["range", "refresh"]) {
    const value = params.get(key);
    if (value) kept.set(key, value);
  }
  return path + patchParams(kept, extra);
}
