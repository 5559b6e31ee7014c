// The JSON shapes of perfpulse's HTTP API v1 (api/models.py is the source of truth). Times named
// start/end/t/since/last_seen are epoch milliseconds; every *_ms field is a duration in milliseconds.

export type Stat = "p50" | "p90" | "p95" | "p99" | "p999" | "min" | "max" | "avg" | "count" | "sum" | "rate";

export type QueryPoint = { t: number } & Partial<Record<Stat, number | null>>;

export interface QuerySeries {
  group: Record<string, string>;
  points: QueryPoint[];
}

export interface QueryResult {
  metric: string;
  start: number;
  end: number;
  step_ms: number | null; // null: one bucket covers the whole range
  series: QuerySeries[];
}

export interface Red {
  requests: number;
  rate: number; // requests per second
  errors: number;
  error_rate: number; // errors / requests
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SpanRed extends Red {
  basis: "server" | "root";
}

export interface ServiceSummary {
  service: string;
  metrics: number;
  points: number;
  last_seen: number;
  red: Red | null;
  span_red: SpanRed | null;
}

export interface ServicesCatalog {
  start: number;
  end: number;
  services: ServiceSummary[];
}

export interface MetricSummary {
  name: string;
  kind: "distribution" | "counter" | "gauge";
  services: string[];
  series: number;
  points: number;
  last_seen: number;
}

export interface MetricsCatalog {
  start: number;
  end: number;
  metrics: MetricSummary[];
}

export type SpanStatus = "ok" | "error" | "unset";

export interface SpanEvent {
  ts: number;
  message: string;
  level: string;
  attributes: Record<string, string>;
}

export interface Span {
  span_id: string;
  parent_span_id: string | null;
  depth: number;
  orphan: boolean;
  children: string[];
  service: string;
  operation: string;
  kind: string;
  status: SpanStatus;
  status_message: string;
  start: number;
  duration_ms: number;
  self_ms: number;
  critical_ms: number;
  tags: Record<string, string>;
  events: SpanEvent[];
}

export interface CriticalSection {
  span_id: string;
  service: string;
  operation: string;
  start: number;
  duration_ms: number;
}

export interface TraceDetail {
  trace_id: string;
  start: number;
  duration_ms: number;
  span_count: number;
  error_count: number;
  services: string[];
  root_span_id: string;
  orphans: number;
  truncated: boolean;
  critical_path: CriticalSection[];
  spans: Span[];
}

export interface TraceSummary {
  trace_id: string;
  root_service: string;
  root_operation: string;
  start: number;
  duration_ms: number;
  span_count: number;
  error_count: number;
  services: string[];
}

export interface TracesPage {
  start: number;
  end: number;
  traces: TraceSummary[];
  next_cursor: string | null;
}

export interface DependencyEdge {
  caller: string;
  callee: string;
  calls: number;
  errors: number;
  error_rate: number;
  p95_ms: number;
}

export interface Dependencies {
  start: number;
  end: number;
  services: string[];
  edges: DependencyEdge[];
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

export interface LogRecord {
  ts: number;
  service: string;
  level: LogLevel;
  message: string;
  attributes: Record<string, string>;
  trace_id: string | null;
  span_id: string | null;
}

export interface LogsPage {
  start: number;
  end: number;
  logs: LogRecord[];
  next_cursor: string | null;
}

export type AlertState = "pending" | "firing" | "resolved";

export interface Alert {
  fingerprint: string;
  rule: string;
  state: AlertState;
  severity: string;
  since: number | null; // when it entered its state
  value: number | null;
  labels: Record<string, string>;
  group: Record<string, string>;
  annotations: Record<string, string>;
  silenced_by: string[];
  inhibited_by: string | null;
}

export interface AlertsList {
  alerts: Alert[];
}

export interface AlertTransition {
  at: number; // evaluation time of the transition (a window end)
  rule: string;
  fingerprint: string;
  state: string;
  previous: string;
  value: number | null;
  severity: string;
  labels: Record<string, string>;
}

export interface AlertHistoryPage {
  history: AlertTransition[];
  next_cursor: string | null;
}

export interface Matcher {
  name: string;
  op: string;
  value: string;
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  matchers_text: string;
  starts_at_ms: number;
  ends_at_ms: number;
  comment: string;
  created_by: string;
  state?: string;
}

export interface SilencesList {
  silences: Silence[];
}

export interface Rule {
  name: string;
  condition: string;
  severity: string;
  notification: string[];
  for_ms: number;
  keep_firing_for_ms: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  group_by: string[];
  window_ms: number;
  line: number;
}

export interface Channel {
  name: string;
  type: string;
  target: string; // redacted
  enabled: boolean;
  disabled: string | null;
}

export interface RulesList {
  file: string;
  loaded: boolean;
  rules: Rule[];
  channels: Channel[];
  errors: RuleFileProblem[];
  warnings: string[];
}

/** A rule as POST/PUT /api/v1/rules take it (the rules file's keys; durations as "30s"). */
export interface RuleBody {
  name: string;
  condition: string;
  severity?: string;
  notification?: string[];
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  group_by?: string[];
  window?: string;
}

export interface RuleFileProblem {
  file: string;
  line: number;
  column: number;
  reason: string;
}

export interface RulesValidation {
  valid: boolean;
  errors: RuleFileProblem[];
  warnings: string[];
}

export interface Attempt {
  at: number;
  channel: string;
  rule: string;
  notification_id: string;
  group_key: string;
  target: string;
  number: number;
  duration_ms: number;
  outcome: "delivered" | "retry" | "failed";
  status_code: number | null;
  error: string | null;
  next_delay_ms: number | null;
  dead_lettered: boolean;
}

export interface AlertAttempts {
  fingerprint: string;
  attempts: Attempt[];
}

export interface DeadLetter {
  id: string;
  channel: string;
  target: string;
  attempts: number;
  reason: string;
  at_ms: number;
  notification: { id: string; status: string; group_labels: Record<string, string>; alerts: { rule: string }[] };
}

export interface DeadLetters {
  dead_letters: DeadLetter[];
}

export interface ApiErrorBody {
  error: string;
  details?: { loc: string; msg: string }[];
}

export interface HeatmapResult {
  metric: string;
  start: number;
  end: number;
  step_ms: number;
  edges: number[]; // value bucket bounds: bucket j holds (edges[j], edges[j+1]]
  times: number[]; // time bucket starts holding observations
  counts: number[][]; // per time bucket, observations per value bucket
  total: number;
}

// GET /api/v1/resources: perfpulse's own processes, as each reported itself
export interface ProcessResources {
  role: string; // "api", "stream", "sink", "notifier", or several joined by +
  host: string;
  pid: number;
  started_at: number;
  at: number; // when sampled, epoch ms
  rss_bytes: number | null;
  cpu_percent: number | null; // 100: one core
  tcp_connections: number | null;
  http_connections: number | null; // null: serves no HTTP
  live_connections: number | null; // null: serves no live feed
}

export interface Resources {
  at: number;
  report_every_s: number;
  stale_after_s: number;
  board: "ok" | "unreachable";
  processes: ProcessResources[];
}
