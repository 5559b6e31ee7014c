import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { currentTick } from "./lib/refresh";
import { parseLocation } from "./lib/router";
import { resolvedRange } from "./lib/useRange";
import { primeLines } from "./views/overviewLines";
import "./styles.css";

// The overview's first chart: its query leaves now, before React renders the shell and the view.
const { path, params } = parseLocation(window.location.pathname + window.location.search);
if (path === "/") primeLines(resolvedRange(params.get("range"), currentTick()));

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
