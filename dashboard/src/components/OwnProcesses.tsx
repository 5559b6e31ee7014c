// The resource monitor of perfpulse itself: one row per process of the deployment (API, stream
// workers, sink, notifier), as each reported itself to the API (GET /api/v1/resources): CPU, resident
// memory, connections (all TCP, HTTP on the API's port, live-feed WebSockets), and how old the figures are.
import { memo } from "react";
import { formatAge, formatBytes, formatCount } from "../lib/format";
import type { ProcessResources, Resources } from "../lib/types";

const sum = (rows: readonly ProcessResources[], pick: (p: ProcessResources) => number | null) =>
  rows.some((p) => pick(p) != null) ? rows.reduce((n, p) => n + (pick(p) ?? 0), 0) : null;

function cpuText(percent: number | null): string {
  return percent == null ? "–" : `${percent.toFixed(percent < 10 ? 1 : 0)} %`;
}

/** The table of ``answer`` (nothing before the first answer); ages are measured from the answer's time. */
export const OwnProcesses = memo(function OwnProcesses({ answer }: { answer: Resources | null }) {
  if (!answer) return null;
  const rows = answer.processes;
  const maxRss = Math.max(1, ...rows.map((p) => p.rss_bytes ?? 0));
  const totals = {
    cpu: sum(rows, (p) => p.cpu_percent),
    rss: sum(rows, (p) => p.rss_bytes),
    http: sum(rows, (p) => p.http_connections),
    live: sum(rows, (p) => p.live_connections),
  };
  return (
    <div className="own-processes" data-board={answer.board}>
      {answer.board === "unreachable" && (
        <div className="status error" role="alert">The API cannot read the other processes' reports (Redis unreachable): this API process alone is shown.</div>
      )}
      <table className="bars">
        <thead>
          <tr>
            <th>process</th>
            <th>host · pid</th>
            <th>CPU (100 % = one core)</th>
            <th>memory (RSS)</th>
            <th>TCP</th>
            <th>HTTP</th>
            <th>live feed</th>
            <th>reported</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr key={`${p.host}:${p.pid}`} data-role={p.role} data-pid={p.pid} data-rss={p.rss_bytes ?? ""} data-cpu={p.cpu_percent ?? ""}>
              <td>{p.role}</td>
              <td className="muted">
                {p.host} · {p.pid}
              </td>
              <td>
                <div className="bar-cell">
                  <div className="bar" style={{ width: `${Math.min(100, p.cpu_percent ?? 0)}%` }} />
                  <span>{cpuText(p.cpu_percent)}</span>
                </div>
              </td>
              <td>
                <div className="bar-cell">
                  <div className="bar" style={{ width: `${(100 * (p.rss_bytes ?? 0)) / maxRss}%` }} />
                  <span>{formatBytes(p.rss_bytes)}</span>
                </div>
              </td>
              <td>{formatCount(p.tcp_connections)}</td>
              <td>{p.http_connections == null ? "" : formatCount(p.http_connections)}</td>
              <td>{p.live_connections == null ? "" : formatCount(p.live_connections)}</td>
              <td className="muted">{formatAge(p.at, answer.at)}</td>
            </tr>
          ))}
        </tbody>
        {rows.length > 1 && (
          <tfoot>
            <tr data-total="true">
              <td>all {rows.length}</td>
              <td />
              <td>{cpuText(totals.cpu)}</td>
              <td>{formatBytes(totals.rss)}</td>
              <td />
              <td>{formatCount(totals.http)}</td>
              <td>{formatCount(totals.live)}</td>
              <td className="muted">every {answer.report_every_s} s</td>
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
});
