// Light and dark themes: the choice is kept in this browser; without one the system's preference
// applies. index.html sets it before the first paint; charts re-read their colours on a change.
import { useSyncExternalStore } from "react";

export type Theme = "light" | "dark";
const STORAGE = "perfpulse.theme";
const listeners = new Set<() => void>();

function current(): Theme {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

export function setTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  try {
    window.localStorage.setItem(STORAGE, theme);
  } catch {
    // storage disabled: the theme holds for this page only
  }
  for (const listener of listeners) listener();
}

export function useTheme(): Theme {
  return useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      return () => listeners.delete(onChange);
    },
    current,
  );
}
