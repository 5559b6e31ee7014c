// Trace search: the form's filters live in the URL; results newest first, each opening its waterfall.
import { memo, useEffect, useState } from "react";
import { Status } from "../components/Status";
import { VirtualList } from "../components/VirtualList";
import * as api from "../lib/api";
import { formatMs, formatTime } from "../lib/format";
import { hrefKeeping, navigate, setParams, useLocation } from "../lib/router";
import type { TraceSummary } from "../lib/types";
import { useApi } from "../lib/useApi";
import { useRange } from "../lib/useRange";

const FIELDS = ["service", "operation", "min", "max", "error"] as const;
type Form = Record<(typeof FIELDS)[number], string>;

export default function Traces() {
  const { params } = useLocation();
  const { start, end, tick } = useRange();
  const form: Form = { service: params.get("service") ?? "", operation: params.get("operation") ?? "", min: params.get("min") ?? "", max: params.get("max") ?? "", error: params.get("error") ?? "" };
  const search: api.TraceSearch = {
    service: form.service || undefined,
    operation: form.operation || undefined,
    minDurationMs: form.min ? Number(form.min) : undefined,
    maxDurationMs: form.max ? Number(form.max) : undefined,
    error: form.error === "1",
    limit: 500,
  };
  const catalog = useApi(`svc-${start}-${end}-${tick}`, (signal) => api.services(start, end, signal));
  const result = useApi(`traces-${JSON.stringify(search)}-${start}-${end}-${tick}`, (signal) => api.searchTraces(start, end, search, signal));
  const traces = result.data?.traces ?? [];
  const longest = Math.max(1, ...traces.map((t) => t.duration_ms));
  return (
    <div className="traces">
      <SearchForm form={form} services={(catalog.data?.services ?? []).map((s) => s.service)} />
      <Status loading={result.loading && !result.data} error={result.error} empty={result.data && traces.length === 0 && "No trace matches in this range."} />
      {traces.length > 0 && (
        <div className="table traces-table">
          <div className="thead trace-line">
            <span>start</span>
            <span>root</span>
            <span>duration (ms)</span>
            <span>spans</span>
            <span>errors</span>
            <span>services</span>
          </div>
          <VirtualList items={traces} rowHeight={30} height={Math.min(600, traces.length * 30 + 2)} renderRow={(t) => <TraceLine t={t} longest={longest} params={params} />} />
          <div className="muted small">
            {traces.length} traces{result.data?.next_cursor ? " (more exist: narrow the range or filters)" : ""}
          </div>
        </div>
      )}
    </div>
  );
}

const TraceLine = memo(function TraceLine({ t, longest, params }: { t: TraceSummary; longest: number; params: URLSearchParams }) {
  const href = hrefKeeping(`/traces/${t.trace_id}`, params);
  return (
    <a
      className={`trace-line ${t.error_count ? "error" : ""}`}
      href={href}
      data-trace={t.trace_id}
      onClick={(e) => {
        e.preventDefault();
        navigate(href);
      }}
    >
      <span>{formatTime(t.start)}</span>
      <span className="ellipsis">
        <strong>{t.root_service}</strong> {t.root_operation}
      </span>
      <span className="bar-cell">
        <span className="bar" style={{ width: `${(100 * t.duration_ms) / longest}%` }} />
        <span>{formatMs(t.duration_ms)}</span>
      </span>
      <span>{t.span_count}</span>
      <span className={t.error_count ? "error" : ""}>{t.error_count}</span>
      <span className="ellipsis muted">{t.services.join(", ")}</span>
    </a>
  );
});

function SearchForm({ form, services }: { form: Form; services: string[] }) {
  const [draft, setDraft] = useState(form);
  const formKey = JSON.stringify(form);
  useEffect(() => setDraft(JSON.parse(formKey) as Form), [formKey]); // follow back/forward
  const set = (k: keyof Form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <form
      className="search-form"
      onSubmit={(e) => {
        e.preventDefault();
        setParams(draft);
      }}
    >
      <label>
        Service
        <select value={draft.service} onChange={set("service")}>
          <option value="">any</option>
          {services.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Operation <input value={draft.operation} onChange={set("operation")} placeholder="any" />
      </label>
      <label>
        Min duration (ms) <input type="number" min="0" value={draft.min} onChange={set("min")} />
      </label>
      <label>
        Max duration (ms) <input type="number" min="0" value={draft.max} onChange={set("max")} />
      </label>
      <label className="check">
        <input type="checkbox" checked={draft.error === "1"} onChange={(e) => setDraft({ ...draft, error: e.target.checked ? "1" : "" })} /> errors only
      </label>
      <button type="submit">Search</button>
    </form>
  );
}
