// Turning the API's query answers into chart columns: one x axis (bucket starts) shared by every
// series, each value exactly as the API gave it (null where a bucket has none).
import type { QueryResult, QuerySeries, Stat } from "./types";

/** Bucket starts from ``start`` to ``end`` every ``stepMs``, aligned to the epoch as the API aligns them. */
export function bucketStarts(start: number, end: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(start / stepMs) * stepMs; t < end; t += stepMs) out.push(t);
  return out;
}

// After a bucket's end its last window still takes points for the stream's grace (2 s by default)
// and is stored within the sink's flush (1 s): until then the bucket counts only part of its requests.
export const STORE_LAG_MS = 5_000;

// Under load the stream and the sink fall behind (a minute was seen on 2 busy cores): the newest
// bucket holding data is then still being filled although its end is past.
export const CATCH_UP_MS = 60_000;

/** The start of the first bucket of ``x`` that is still open: its figures are partial, a rate dips
 * and a ratio jumps. Open is a bucket ending after ``now`` less :data:`STORE_LAG_MS` or after the
 * range's ``end`` (which cuts it), and ``newest`` (the newest bucket holding data, null: none) while
 * it ended less than :data:`CATCH_UP_MS` ago. Null when every bucket is complete. */
export function openFrom(x: readonly number[], stepMs: number, end: number, now: number, newest: number | null = null): number | null {
  const complete = Math.min(end, now - STORE_LAG_MS);
  const filling = newest != null && newest + stepMs > now - CATCH_UP_MS ? newest : Infinity;
  const open = x.find((t) => t + stepMs > complete || t >= filling);
  return open ?? null;
}

/** The newest bucket start holding a value of ``stat`` in any series of ``result`` (null: none). */
export function newestBucket(result: QueryResult | null, stat: Stat): number | null {
  let newest: number | null = null;
  for (const s of result?.series ?? []) for (const p of s.points) if (p[stat] != null && (newest == null || p.t > newest)) newest = p.t;
  return newest;
}

/** The values of ``stat`` of one series at each of ``x`` (null for a bucket the API did not return). */
export function column(series: QuerySeries | undefined, stat: Stat, x: readonly number[]): (number | null)[] {
  const byT = new Map<number, number | null>();
  for (const p of series?.points ?? []) byT.set(p.t, p[stat] ?? null);
  return x.map((t) => byT.get(t) ?? null);
}

/** The series of ``result`` whose group has ``key`` = ``value``. */
export function seriesOf(result: QueryResult | null, key: string, value: string): QuerySeries | undefined {
  return result?.series.find((s) => s.group[key] === value);
}

/** Every value of ``key`` across the groups of ``result``, sorted. */
export function groupValues(result: QueryResult | null, key: string): string[] {
  return [...new Set((result?.series ?? []).map((s) => s.group[key]).filter((v): v is string => v != null))].sort();
}

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"];

/** A stable colour for a name (a service keeps its colour across charts and refreshes). */
export function colorFor(name: string, names: readonly string[]): string {
  const i = names.indexOf(name);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length] as string;
}
