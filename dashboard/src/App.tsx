// The shell: navigation, range picker, refresh, theme and key. The overview, the page a visit opens
// first, is part of the entry (as a chunk of its own it cost a lazy load and a Suspense round before
// the first chart); every other view is its own chunk, loaded when its route is first opened.
import { lazy, type ReactNode, Suspense, useEffect } from "react";
import { ApiKeyField } from "./components/ApiKeyField";
import { checkAccess, useAccess } from "./lib/auth";
import { RangePicker } from "./components/RangePicker";
import { DEFAULT_REFRESH, LIVE_FALLBACK_MS, REFRESH_CHOICES, refreshNow, useAutoRefresh } from "./lib/refresh";
import { hrefKeeping, navigate, setParams, useLocation } from "./lib/router";
import { setTheme, useTheme } from "./lib/theme";
import { useRange } from "./lib/useRange";
import Overview from "./views/Overview";

const Traces = lazy(() => import("./views/Traces"));
const TraceView = lazy(() => import("./views/TraceView"));
const Logs = lazy(() => import("./views/Logs"));
const Alerts = lazy(() => import("./views/Alerts"));
const ServiceMap = lazy(() => import("./views/ServiceMap"));
const Reports = lazy(() => import("./views/Reports"));

const NAV: { path: string; label: string }[] = [
  { path: "/", label: "Overview" },
  { path: "/traces", label: "Traces" },
  { path: "/logs", label: "Logs" },
  { path: "/alerts", label: "Alerts" },
  { path: "/map", label: "Service map" },
  { path: "/reports", label: "Reports" },
];

function route(path: string): ReactNode {
  if (path === "/") return <Overview />;
  if (path === "/traces") return <Traces />;
  if (path.startsWith("/traces/")) return <TraceView traceId={decodeURIComponent(path.slice("/traces/".length))} />;
  if (path === "/logs") return <Logs />;
  if (path === "/alerts") return <Alerts />;
  if (path === "/map") return <ServiceMap />;
  if (path === "/reports") return <Reports />;
  return <div className="status">No page at {path}.</div>;
}

export function Link({ href, children, className }: { href: string; children: ReactNode; className?: string }) {
  return (
    <a
      href={href}
      className={className}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return; // new tab etc.
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function App() {
  const { path, params } = useLocation();
  const { range, start, end } = useRange();
  const theme = useTheme();
  const access = useAccess();
  // Whether this key may write: asked once per key (sign-in, sign-out, page load).
  useEffect(() => {
    void checkAccess();
  }, [access.key]);
  const refresh = params.get("refresh") ?? DEFAULT_REFRESH;
  const live = useAutoRefresh(refresh, access.key, access.needsKey);
  const section = path === "/" ? "/" : `/${path.split("/")[1]}`;
  return (
    <div className="app">
      <header className="topbar">
        <Link href={hrefKeeping("/", params)} className="brand">
          perfpulse
        </Link>
        <nav>
          {NAV.map((n) => (
            <Link key={n.path} href={hrefKeeping(n.path, params)} className={section === n.path ? "active" : ""}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="spacer" />
        <RangePicker range={range} start={start} end={end} />
        <select
          aria-label="Auto-refresh"
          value={refresh}
          onChange={(e) => setParams({ refresh: e.target.value }, true)}
        >
          {REFRESH_CHOICES.map((c) => (
            <option key={c.token} value={c.token}>
              Auto-refresh: {c.label}
            </option>
          ))}
        </select>
        {live && (
          <span
            className={`pill live-state ${live === "live" ? "pill-ok" : ""}`}
            data-state={live}
            title={live === "polling" ? `The live feed cannot be reached: refreshing every ${LIVE_FALLBACK_MS / 1000} s meanwhile` : undefined}
          >
            {live}
          </span>
        )}
        <button type="button" onClick={refreshNow} title="Refresh now">
          Refresh
        </button>
        <button type="button" onClick={() => setTheme(theme === "dark" ? "light" : "dark")} title="Light or dark theme">
          {theme === "dark" ? "Light" : "Dark"}
        </button>
        <ApiKeyField />
      </header>
      <main>
        {access.needsKey ? (
          <div className="status">This perfpulse asks for an API key: sign in at the top right to see its data.</div>
        ) : (
          <Suspense fallback={<div className="status muted">Loading…</div>}>{route(path)}</Suspense>
        )}
      </main>
    </div>
  );
}
