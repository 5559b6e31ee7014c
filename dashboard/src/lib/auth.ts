// The API key the dashboard signs in with: kept in this browser (localStorage) and sent as
// "Authorization: Bearer <key>" on every request.
//
// Access is a single switch, ``access.canWrite``: write actions (rules, silences, redeliveries)
// render only when it is true. It is off until :func:`checkAccess` has asked the API: the keys
// listing answers only an admin key (or anyone while the API has no key), so its 200 means the key
// may write and its 403 that it may not. A write answered 403 later turns the switch off too (the key
// was changed on the server), and any 401 asks for a key.
import { useSyncExternalStore } from "react";

const KEY_STORAGE = "perfpulse.apiKey";

export interface Access {
  key: string | null;
  canWrite: boolean; // the one switch that shows or hides every write action
  needsKey: boolean; // the API answered 401: nothing is shown until a key is given
}

let access: Access = { key: readKey(), canWrite: false, needsKey: false };
// The endpoint only an admin key may read (api/auth.py: Access.KEYS): the probe of a key's role.
const ADMIN_PROBE = "/api/v1/keys";
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

/** Store ``key`` (null signs out); it may not write until :func:`checkAccess` says it may. */
export function setApiKey(key: string | null): void {
  try {
    if (key) window.localStorage.setItem(KEY_STORAGE, key);
    else window.localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: keep the key in memory only
  }
  publish({ key, canWrite: false, needsKey: false });
}

/** Ask the API whether the current key may write (see above); an answer for a key signed out
 * meanwhile is dropped. Without an answer (network down) write actions stay hidden. */
export async function checkAccess(): Promise<void> {
  const key = access.key;
  let status: number;
  try {
    status = (await fetch(ADMIN_PROBE, { headers: { Accept: "application/json", ...authHeaders() } })).status;
  } catch {
    return;
  }
  if (access.key !== key) return;
  publish({ key, canWrite: status >= 200 && status < 300, needsKey: status === 401 });
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
