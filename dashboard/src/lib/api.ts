// The HTTP client of the dashboard: one function per endpoint of the API v1, the key sent on every
// request, errors turned into ApiRequestError with the API's own message.
import { authHeaders, learnAccess } from "./auth";
import { stepParam } from "./timeRange";
import type {
  AlertAttempts,
  AlertHistoryPage,
  AlertsList,
  ApiErrorBody,
  DeadLetters,
  Dependencies,
  HeatmapResult,
  LogsPage,
  MetricsCatalog,
  QueryResult,
  Resources,
  RuleBody,
  RulesList,
  RulesValidation,
  ServicesCatalog,
  Silence,
  SilencesList,
  Stat,
  TraceDetail,
  TracesPage,
} from "./types";

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: { loc: string; msg: string }[] = [],
  ) {
    super(message);
  }
}

type Params = Record<string, string | number | boolean | null | undefined>;

function url(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value != null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

// GETs started before React rendered (src/prime.ts: the first chart's query), each taken by the first
// request of the same URL, or, once its answer is parsed, by the first peek at it (peekQuery), which lets
// a view's first render hold the data. Nothing else is kept.
const primed = new Map<string, Promise<Response>>();
const parsed = new Map<string, unknown>();

/** A GET sent before the app's code ran (index.html's head start): its URL and its answer. */
export interface EarlyAnswer {
  url: string;
  answer: Promise<Response>;
}

/** Start ``GET path?params`` now, or adopt ``early`` when it asked this very URL; the first request of
 * the URL is answered by it. */
export function prime(path: string, params: Params = {}, early?: EarlyAnswer): void {
  const target = url(path, params);
  const answer = early?.url === target ? early.answer : fetch(target, { headers: { Accept: "application/json", ...authHeaders() } });
  answer.catch(() => undefined); // a failure is the taker's to report, not an unhandled rejection
  primed.set(target, answer);
  // A successful answer is parsed as soon as it is here (from a copy: a request that takes the answer
  // first reads its own); an error is left to the request, which reports it.
  answer
    .then((response) => (response.ok ? response.clone().json() : undefined))
    .then((data: unknown) => {
      if (data !== undefined && primed.get(target) === answer) parsed.set(target, data);
    })
    .catch(() => undefined);
}

/** The primed answer for ``target`` (once), or none. */
function takePrimed(target: string): Promise<Response> | undefined {
  const answer = primed.get(target);
  primed.delete(target);
  parsed.delete(target);
  return answer;
}

async function request<T>(method: string, path: string, params: Params, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const target = url(path, params);
  const response = await ((method === "GET" && takePrimed(target)) ||
    fetch(target, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    }));
  if (!response.ok) {
    learnAccess(response.status, method !== "GET");
    let parsed: ApiErrorBody | null = null;
    try {
      parsed = (await response.json()) as ApiErrorBody;
    } catch {
      parsed = null; // not JSON (a proxy's page): the status says enough
    }
    const detail = parsed?.details?.map((d) => `${d.loc}: ${d.msg}`).join("; ");
    const message = `cannot ${method} ${path}: ${response.status} ${parsed?.error ?? response.statusText}${detail ? ` (${detail})` : ""}`;
    throw new ApiRequestError(response.status, message, parsed?.details ?? []);
  }
  return (await response.json()) as T;
}

export const get = <T>(path: string, params: Params = {}, signal?: AbortSignal) =>
  request<T>("GET", path, params, undefined, signal);

export interface MetricQuery {
  metric: string;
  start: number;
  end: number;
  stats: Stat[];
  stepMs?: number | null; // null or absent: one bucket over the range
  groupBy?: string; // default "service"; "" for one series
  service?: string;
  labels?: Record<string, string>;
}

/** The query's parameters exactly as sent, so a test can ask the API the same question. */
export function queryParams(q: MetricQuery): Params {
  const params: Params = {
    metric: q.metric,
    start: q.start,
    end: q.end,
    stats: q.stats.join(","),
    group_by: q.groupBy ?? "service",
    service: q.service,
    step: q.stepMs ? stepParam(q.stepMs) : undefined,
  };
  for (const [k, v] of Object.entries(q.labels ?? {})) params[`label.${k}`] = v;
  return params;
}

/** One query of a batch as ``POST /api/v1/query/batch`` takes it: ``queryParams`` as JSON. */
export function batchQuery(q: MetricQuery): Record<string, unknown> {
  return {
    metric: q.metric,
    start: q.start,
    end: q.end,
    stats: q.stats,
    group_by: (q.groupBy ?? "service").split(",").filter(Boolean),
    service: q.service ? [q.service] : [],
    step: q.stepMs ? stepParam(q.stepMs) : null,
    labels: q.labels ?? {},
  };
}

interface BatchItem {
  status: number;
  result?: QueryResult;
  error?: ApiErrorBody;
}

interface Waiting {
  query: MetricQuery;
  signal?: AbortSignal;
  resolve: (result: QueryResult) => void;
  reject: (error: unknown) => void;
}

export const MAX_BATCH = 50; // the API's MAX_QUERIES
let waiting: Waiting[] = [];

/** Send the queries asked so far as batches of at most :data:`MAX_BATCH`; each caller gets its own
 * result or error. A batch whose callers all went away is aborted. */
function sendWaiting(): void {
  const all = waiting;
  waiting = [];
  for (let i = 0; i < all.length; i += MAX_BATCH) {
    const group = all.slice(i, i + MAX_BATCH);
    const controller = new AbortController();
    for (const one of group) {
      one.signal?.addEventListener("abort", () => {
        if (group.every((g) => g.signal?.aborted)) controller.abort();
      });
    }
    request<{ results: BatchItem[] }>("POST", "/api/v1/query/batch", {}, { queries: group.map((g) => batchQuery(g.query)) }, controller.signal).then(
      ({ results }) =>
        group.forEach((one, k) => {
          const item = results[k];
          if (item?.status === 200 && item.result) one.resolve(item.result);
          else {
            const details = item?.error?.details ?? [];
            const why = details.map((d) => `${d.loc}: ${d.msg}`).join("; ");
            const message = `cannot query ${one.query.metric}: ${item?.status ?? "no answer"} ${item?.error?.error ?? ""}${why ? ` (${why})` : ""}`;
            one.reject(new ApiRequestError(item?.status ?? 502, message, details));
          }
        }),
      (error: unknown) => group.forEach((one) => one.reject(error)),
    );
  }
}

/** A query's result through ``POST /api/v1/query/batch``: the queries asked in one task (a view's
 * effects, run together after a render) go out in one round trip, run at once by the API and each
 * cached there like a single query. A query whose GET was primed (src/prime.ts) takes that answer. */
function batched(q: MetricQuery, signal?: AbortSignal): Promise<QueryResult> {
  if (primed.has(url("/api/v1/query", queryParams(q)))) return get<QueryResult>("/api/v1/query", queryParams(q), signal);
  return new Promise((resolve, reject) => {
    waiting.push({ query: q, signal, resolve, reject });
    if (waiting.length === 1) queueMicrotask(sendWaiting);
  });
}

/** The result of ``q`` if its primed GET has already been answered and parsed (once: then the URL is
 * asked like any other), or undefined: for a view's first render. */
export function peekQuery(q: MetricQuery): QueryResult | undefined {
  const target = url("/api/v1/query", queryParams(q));
  const data = parsed.get(target);
  if (data !== undefined) takePrimed(target);
  return data as QueryResult | undefined;
}

/** A metric query (``GET /api/v1/query``'s parameters), batched with those asked at the same time.
 * A step the API refuses as finer than its window is retried once in whole minutes (every window
 * divides a minute or is whole minutes). */
export async function queryMetric(q: MetricQuery, signal?: AbortSignal): Promise<QueryResult> {
  try {
    return await batched(q, signal);
  } catch (exc) {
    const stepRefused = exc instanceof ApiRequestError && exc.status === 400 && exc.details.some((d) => d.loc.endsWith("step"));
    if (!stepRefused || !q.stepMs || q.stepMs % 60_000 === 0) throw exc;
    return batched({ ...q, stepMs: Math.ceil(q.stepMs / 60_000) * 60_000 }, signal);
  }
}

export interface HeatmapQuery {
  metric: string;
  start: number;
  end: number;
  service?: string;
  buckets?: number; // value buckets at most (the API's default 40)
}

/** ``GET /api/v1/heatmap``; the API picks a round step of at most 120 time buckets. */
export const heatmap = (q: HeatmapQuery, signal?: AbortSignal) =>
  get<HeatmapResult>("/api/v1/heatmap", { metric: q.metric, start: q.start, end: q.end, service: q.service, buckets: q.buckets }, signal);

export const services = (start: number, end: number, signal?: AbortSignal) =>
  get<ServicesCatalog>("/api/v1/services", { start, end }, signal);

export const metrics = (start: number, end: number, signal?: AbortSignal) =>
  get<MetricsCatalog>("/api/v1/metrics", { start, end }, signal);

export interface TraceSearch {
  service?: string;
  operation?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  error?: boolean;
  limit?: number;
  cursor?: string;
}

export const searchTraces = (start: number, end: number, s: TraceSearch, signal?: AbortSignal) =>
  get<TracesPage>(
    "/api/v1/traces",
    {
      start,
      end,
      service: s.service,
      operation: s.operation,
      min_duration_ms: s.minDurationMs,
      max_duration_ms: s.maxDurationMs,
      error: s.error ? true : undefined,
      limit: s.limit ?? 50,
      cursor: s.cursor,
    },
    signal,
  );

export const trace = (traceId: string, signal?: AbortSignal) =>
  get<TraceDetail>(`/api/v1/traces/${encodeURIComponent(traceId)}`, {}, signal);

export const dependencies = (start: number, end: number, signal?: AbortSignal) =>
  get<Dependencies>("/api/v1/dependencies", { start, end }, signal);

export interface LogSearch {
  service?: string;
  level?: string;
  q?: string;
  traceId?: string;
  limit?: number;
  cursor?: string;
}

export const logs = (start: number, end: number, s: LogSearch, signal?: AbortSignal) =>
  get<LogsPage>(
    "/api/v1/logs",
    { start, end, service: s.service, level: s.level, q: s.q, trace_id: s.traceId, limit: s.limit ?? 1000, cursor: s.cursor },
    signal,
  );

/** ``GET /api/v1/resources``: memory, CPU and connections of perfpulse's own processes. */
export const resources = (signal?: AbortSignal) => get<Resources>("/api/v1/resources", {}, signal);

export const alerts = (signal?: AbortSignal) => get<AlertsList>("/api/v1/alerts", {}, signal);

export const alertHistory = (since: number, until: number, signal?: AbortSignal) =>
  get<AlertHistoryPage>("/api/v1/alerts/history", { since, until, limit: 500 }, signal);

export const silences = (signal?: AbortSignal) => get<SilencesList>("/api/v1/silences", {}, signal);

export const rules = (signal?: AbortSignal) => get<RulesList>("/api/v1/rules", {}, signal);

export interface NewSilence {
  matchers: { name: string; op: string; value: string }[];
  duration: string; // "1h"
  comment: string;
  created_by: string;
}

export const createSilence = (body: NewSilence) => request<Silence>("POST", "/api/v1/silences", {}, body);

export const expireSilence = (id: string) =>
  request<unknown>("DELETE", `/api/v1/silences/${encodeURIComponent(id)}`, {});

export const validateRule = (rule: RuleBody) => request<RulesValidation>("POST", "/api/v1/rules/validate", {}, { rule });

/** Create ``rule``, or replace the rule named ``replacing`` with it (it may rename it). */
export const saveRule = (rule: RuleBody, replacing: string | null) =>
  replacing === null
    ? request<unknown>("POST", "/api/v1/rules", {}, rule)
    : request<unknown>("PUT", `/api/v1/rules/${encodeURIComponent(replacing)}`, {}, rule);

export const deleteRule = (name: string) => request<unknown>("DELETE", `/api/v1/rules/${encodeURIComponent(name)}`, {});

export const attempts = (fingerprint: string, signal?: AbortSignal) =>
  get<AlertAttempts>(`/api/v1/alerts/${encodeURIComponent(fingerprint)}/attempts`, { limit: 50 }, signal);

export const deadLetters = (signal?: AbortSignal) => get<DeadLetters>("/api/v1/alerts/deadletters", {}, signal);

export const redeliver = (id: string) =>
  request<unknown>("POST", `/api/v1/alerts/deadletters/${encodeURIComponent(id)}/redeliver`, {});
