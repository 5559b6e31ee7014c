/**
 * W3C Trace Context: the `traceparent` (and `tracestate`) headers that carry a trace from one
 * service to the next. A missing or malformed header gives no context (a new trace starts), as the
 * recommendation requires, never an error. Pure functions: usable in any runtime.
 */

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";

/** Where a span sits in a trace: what a child needs of its parent. */
export interface SpanContext {
  traceId: string; // 32 lowercase hex, not all zero
  spanId: string; // 16 lowercase hex, not all zero
  sampled: boolean;
  remote: boolean; // read from a request, not started here
  traceState: string; // the vendor list passed on unchanged ("" for none)
}

// version-traceid-parentid-flags; a future version may append "-<more>" after the 55 characters.
const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const MAX_TRACESTATE = 512; // characters; a longer list is dropped rather than passed on
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** The remote context a `traceparent` value names; undefined when malformed. */
export function parseTraceparent(value: string, traceState = ""): SpanContext | undefined {
  const match = TRACEPARENT_RE.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string?];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const state = traceState.trim();
  return {
    traceId,
    spanId,
    sampled: (parseInt(flags, 16) & 1) === 1,
    remote: true,
    traceState: state.length <= MAX_TRACESTATE ? state : "",
  };
}

/** The `traceparent` value naming `context` as the parent (version 00). */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? "01" : "00"}`;
}

/** Request headers in any of the shapes Node, fetch and frameworks hand them over. */
export type HeadersLike =
  | { get(name: string): string | null | undefined }
  | Record<string, string | string[] | number | undefined>;

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    const value = (headers as { get(name: string): string | null | undefined }).get(name);
    return value ?? undefined;
  }
  const record = headers as Record<string, unknown>;
  let value = record[name];
  if (value === undefined) {
    // Node lowercases incoming header names; a hand-built object may not have.
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === "string" ? value : undefined;
}

/** The parent context carried by request `headers`; undefined without a valid `traceparent`. */
export function extract(headers: HeadersLike): SpanContext | undefined {
  const value = header(headers, TRACEPARENT);
  if (value === undefined) return undefined;
  return parseTraceparent(value, header(headers, TRACESTATE) ?? "");
}

/**
 * Write `traceparent` (and `tracestate` when there is one) naming `context` into outgoing
 * `headers` (a plain object, or anything with `set`), and return them.
 */
export function injectContext<H extends { set(name: string, value: string): unknown } | Record<string, string>>(
  headers: H,
  context: SpanContext,
): H {
  const set = (headers as { set?: unknown }).set;
  if (typeof set === "function") {
    const target = headers as { set(name: string, value: string): unknown; delete?(name: string): unknown };
    target.set(TRACEPARENT, formatTraceparent(context));
    if (context.traceState) target.set(TRACESTATE, context.traceState);
    else target.delete?.(TRACESTATE);
    return headers;
  }
  const record = headers as Record<string, string>;
  for (const key of Object.keys(record)) {
    const lower = key.toLowerCase();
    if (lower === TRACEPARENT || lower === TRACESTATE) delete record[key];
  }
  record[TRACEPARENT] = formatTraceparent(context);
  if (context.traceState) record[TRACESTATE] = context.traceState;
  return headers;
}
