// The service map: services placed in columns by call depth (callers left of callees), each edge
// labelled with the API's calls, errors and p95 of the callee's spans.
import { memo, useMemo } from "react";
import { Status } from "../components/Status";
import * as api from "../lib/api";
import { formatCount, formatMs, formatPercent } from "../lib/format";
import type { Dependencies } from "../lib/types";
import { useApi } from "../lib/useApi";
import { useRange } from "../lib/useRange";

const NODE_W = 150;
const NODE_H = 40;
const COL_GAP = 420; // room for an edge's two label lines between columns
const ROW_GAP = 90;

/** Column of each service: 0 for those nobody calls, else one more than its deepest caller (cycles cut). */
export function columns(deps: Dependencies): Map<string, number> {
  const col = new Map<string, number>(deps.services.map((s) => [s, 0]));
  for (let pass = 0; pass < deps.services.length; pass += 1) {
    let changed = false;
    for (const e of deps.edges) {
      if (e.caller === e.callee) continue;
      const next = (col.get(e.caller) ?? 0) + 1;
      if (next > (col.get(e.callee) ?? 0) && next < deps.services.length) {
        col.set(e.callee, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return col;
}

export default function ServiceMap() {
  const { start, end, tick } = useRange();
  const result = useApi(`deps-${start}-${end}-${tick}`, (signal) => api.dependencies(start, end, signal));
  return (
    <div className="service-map">
      <h2>
        Service map <span className="muted">calls between services, from parent and child spans</span>
      </h2>
      <Status loading={result.loading && !result.data} error={result.error} empty={result.data?.services.length === 0 && "No span in this range."} />
      {result.data && result.data.services.length > 0 && <MapGraph deps={result.data} />}
    </div>
  );
}

const MapGraph = memo(function MapGraph({ deps }: { deps: Dependencies }) {
  const layout = useMemo(() => {
    const col = columns(deps);
    const rows = new Map<number, number>();
    const pos = new Map<string, { x: number; y: number }>();
    for (const s of [...deps.services].sort()) {
      const c = col.get(s) ?? 0;
      const r = rows.get(c) ?? 0;
      rows.set(c, r + 1);
      pos.set(s, { x: 20 + c * COL_GAP, y: 30 + r * ROW_GAP });
    }
    const width = 40 + Math.max(...[...col.values()], 0) * COL_GAP + NODE_W;
    const height = 60 + Math.max(...[...rows.values()], 1) * ROW_GAP;
    return { pos, width, height };
  }, [deps]);
  return (
    <svg className="map" width={layout.width} height={layout.height} role="img" aria-label="Service map">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
          <path d="M0 0 L10 5 L0 10 z" className="map-arrow" />
        </marker>
      </defs>
      {deps.edges.map((e) => {
        const a = layout.pos.get(e.caller);
        const b = layout.pos.get(e.callee);
        if (!a || !b) return null;
        const x1 = a.x + NODE_W;
        const y1 = a.y + NODE_H / 2;
        const x2 = b.x;
        const y2 = b.y + NODE_H / 2;
        return (
          <g key={`${e.caller}->${e.callee}`} className={e.errors ? "map-edge error" : "map-edge"}>
            <path d={`M${x1} ${y1} C${x1 + 60} ${y1} ${x2 - 60} ${y2} ${x2} ${y2}`} markerEnd="url(#arrow)" />
            <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 20} textAnchor="middle">
              <tspan x={(x1 + x2) / 2}>
                {formatCount(e.calls)} calls · {formatCount(e.errors)} errors ({formatPercent(e.error_rate)})
              </tspan>
              <tspan x={(x1 + x2) / 2} dy="14">
                p95 {formatMs(e.p95_ms)}
              </tspan>
            </text>
          </g>
        );
      })}
      {deps.services.map((s) => {
        const p = layout.pos.get(s);
        if (!p) return null;
        return (
          <g key={s} className="map-node" transform={`translate(${p.x} ${p.y})`}>
            <rect width={NODE_W} height={NODE_H} rx="6" />
            <text x={NODE_W / 2} y={NODE_H / 2 + 5} textAnchor="middle">
              {s}
            </text>
          </g>
        );
      })}
    </svg>
  );
});
