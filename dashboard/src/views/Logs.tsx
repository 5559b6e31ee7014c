// Logs, newest first, filtered by service, level, words and trace (all in the URL). Up to 10,000
// lines are fetched page by page and shown in a virtual list, so scrolling stays smooth.
import { memo, useEffect, useState } from "react";
import { Link } from "../App";
import { Status } from "../components/Status";
import { VirtualList } from "../components/VirtualList";
import * as api from "../lib/api";
import { formatTimePrecise } from "../lib/format";
import { hrefKeeping, setParams, useLocation } from "../lib/router";
import type { LogRecord, LogsPage } from "../lib/types";
import { useApi } from "../lib/useApi";
import { useRange } from "../lib/useRange";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
const MAX_LINES = 10_000;
const PAGE = 1_000; // the API's largest page

/** Pages of ``search`` newest first, following next_cursor until ``max`` records or the last page. */
export async function fetchLogs(start: number, end: number, search: api.LogSearch, max: number, signal: AbortSignal): Promise<LogsPage> {
  let page = await api.logs(start, end, { ...search, limit: Math.min(PAGE, max) }, signal);
  const all = [...page.logs];
  while (page.next_cursor && all.length < max) {
    page = await api.logs(start, end, { ...search, limit: Math.min(PAGE, max - all.length), cursor: page.next_cursor }, signal);
    all.push(...page.logs);
  }
  return { ...page, logs: all };
}

export default function Logs() {
  const { params } = useLocation();
  const { start, end, tick } = useRange();
  const search: api.LogSearch = {
    service: params.get("service") ?? undefined,
    level: params.get("level") ?? undefined,
    q: params.get("q") ?? undefined,
    traceId: params.get("trace") ?? undefined,
  };
  const result = useApi(`logs-${JSON.stringify(search)}-${start}-${end}-${tick}`, (signal) => fetchLogs(start, end, search, MAX_LINES, signal));
  const lines = result.data?.logs ?? [];
  return (
    <div className="logs">
      <LogFilters search={search} />
      <Status loading={result.loading && !result.data} error={result.error} empty={result.data && lines.length === 0 && "No log line matches in this range."} />
      {lines.length > 0 && (
        <>
          <div className="muted small">
            {lines.length.toLocaleString()} lines, newest first{result.data?.next_cursor ? ` (the newest ${MAX_LINES.toLocaleString()}; narrow the filters for older ones)` : ""}
          </div>
          <VirtualList items={lines} rowHeight={22} height={640} className="log-list" renderRow={(l) => <LogLine line={l} params={params} />} />
        </>
      )}
    </div>
  );
}

const LogLine = memo(function LogLine({ line, params }: { line: LogRecord; params: URLSearchParams }) {
  return (
    <div className={`log-line level-${line.level}`} title={Object.entries(line.attributes).map(([k, v]) => `${k}=${v}`).join(" ")}>
      <span className="log-ts">{formatTimePrecise(line.ts)}</span>
      <span className="log-level">{line.level}</span>
      <span className="log-svc" title={line.service}>{line.service}</span>
      <span className="log-msg">{line.message}</span>
      {line.trace_id && (
        <Link className="log-trace" href={hrefKeeping(`/traces/${line.trace_id}`, params, line.span_id ? { span: line.span_id } : {})}>
          trace
        </Link>
      )}
    </div>
  );
});

function LogFilters({ search }: { search: api.LogSearch }) {
  const [q, setQ] = useState(search.q ?? "");
  const [trace, setTrace] = useState(search.traceId ?? "");
  const [service, setService] = useState(search.service ?? "");
  useEffect(() => setQ(search.q ?? ""), [search.q]);
  useEffect(() => setTrace(search.traceId ?? ""), [search.traceId]);
  useEffect(() => setService(search.service ?? ""), [search.service]);
  const levels = new Set((search.level ?? "").split(",").filter(Boolean));
  const toggle = (level: string) => {
    const next = new Set(levels);
    if (next.has(level)) next.delete(level);
    else next.add(level);
    setParams({ level: LEVELS.filter((l) => next.has(l)).join(",") });
  };
  return (
    <form
      className="search-form"
      onSubmit={(e) => {
        e.preventDefault();
        setParams({ q: q.trim(), trace: trace.trim(), service: service.trim() });
      }}
    >
      <label>
        Service <input value={service} onChange={(e) => setService(e.target.value)} placeholder="any (comma-separated)" />
      </label>
      <label>
        Text <input value={q} onChange={(e) => setQ(e.target.value)} placeholder="whole words" />
      </label>
      <label>
        Trace id <input value={trace} onChange={(e) => setTrace(e.target.value)} placeholder="any" />
      </label>
      <fieldset className="levels">
        {LEVELS.map((l) => (
          <label key={l} className={`check level-${l}`}>
            <input type="checkbox" checked={levels.has(l)} onChange={() => toggle(l)} /> {l}
          </label>
        ))}
      </fieldset>
      <button type="submit">Filter</button>
    </form>
  );
}
