// The API key the dashboard signs in with: kept in this browser (localStorage) and sent as
// "Authorization: Bearer <key>" on every request.
//
// Access is a single switch, ``access.canWrite``: write actions (silences, rules) render only when it
// is true. The API does not enforce keys yet, so every key may write until the API refuses one: a
// write answered 403 marks the key read-only (and a 401 asks for a key). When the API gains an
// endpoint naming a key's role, ``learnAccess`` is the one place to ask it.
import { useSyncExternalStore } from "react";

const KEY_STORAGE = "perfpulse.apiKey";

export interface Access {
  key: string | null;
  canWrite: boolean; // the one switch that shows or hides every write action
  needsKey: boolean; // the API answered 401: nothing is shown until a key is given
}

let access: Access = { key: readKey(), canWrite: true, needsKey: false };
const listeners = new Set<() => void>();

function readKey(): string | null {
  try {
    return window.localStorage.getItem(KEY_STORAGE);
  } catch {
    return null; // storage disabled: the key lives for this page only
  }
}

function publish(next: Access): void {
  access = next;
  for (const listener of listeners) listener();
}

export function currentAccess(): Access {
  return access;
}

/** Store ``key`` (null signs out) and assume it may write until the API says otherwise. */
export function setApiKey(key: string | null): void {
  try {
    if (key) window.localStorage.setItem(KEY_STORAGE, key);
    else window.localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: keep the key in memory only
  }
  publish({ key, canWrite: true, needsKey: false });
}

/** What an answer's status says about the key: 401 needs a key, 403 on a write means read-only. */
export function learnAccess(status: number, write: boolean): void {
  if (status === 401 && !access.needsKey) publish({ ...access, needsKey: true });
  else if (status === 403 && write && access.canWrite) publish({ ...access, canWrite: false });
}

/** The headers every request carries. */
export function authHeaders(): Record<string, string> {
  return access.key ? { Authorization: `Bearer ${access.key}` } : {};
}

export function useAccess(): Access {
  return useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    () => access,
  );
}
