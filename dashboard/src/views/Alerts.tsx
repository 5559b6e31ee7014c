// The alert panel: active alerts (silence one from its labels, see its delivery attempts), silences
// (expire one), the history of transitions in the range, the rules in force (edited in
// alerts/RulesPanel) and dead letters. Write actions show only while access.canWrite; the alert whose
// attempts are open is in the URL (``attempts=<fingerprint>``).
import { Fragment, memo, useState } from "react";
import { Status } from "../components/Status";
import { VirtualList } from "../components/VirtualList";
import * as api from "../lib/api";
import { useAccess } from "../lib/auth";
import { formatAge, formatTime } from "../lib/format";
import { refreshNow } from "../lib/refresh";
import { setParams, useLocation } from "../lib/router";
import type { Alert, AlertTransition, Silence } from "../lib/types";
import { useApi } from "../lib/useApi";
import { useRange } from "../lib/useRange";
import { Attempts, DeadLetters } from "./alerts/Deliveries";
import { RulesPanel } from "./alerts/RulesPanel";

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

export default function Alerts() {
  const { start, end, tick } = useRange();
  const active = useApi(`alerts-${tick}`, (signal) => api.alerts(signal));
  const silences = useApi(`silences-${tick}`, (signal) => api.silences(signal));
  const history = useApi(`history-${start}-${end}-${tick}`, (signal) => api.alertHistory(start, end, signal));
  const rules = useApi(`rules-${tick}`, (signal) => api.rules(signal));
  return (
    <div className="alerts">
      <section>
        <h2>Active alerts</h2>
        <Status loading={active.loading && !active.data} error={active.error} empty={active.data?.alerts.length === 0 && "No alert is pending or firing."} />
        {active.data && active.data.alerts.length > 0 && <ActiveAlerts alerts={active.data.alerts} tick={tick} />}
      </section>
      <section>
        <h2>Silences</h2>
        <Status loading={silences.loading && !silences.data} error={silences.error} empty={silences.data?.silences.length === 0 && "No silence."} />
        {silences.data && silences.data.silences.length > 0 && <Silences silences={silences.data.silences} />}
      </section>
      <section>
        <h2>History <span className="muted">transitions in the range, newest first</span></h2>
        <Status loading={history.loading && !history.data} error={history.error} empty={history.data?.history.length === 0 && "No transition in this range."} />
        {history.data && history.data.history.length > 0 && <History entries={history.data.history} />}
      </section>
      <section>
        <h2>Rules</h2>
        <Status loading={rules.loading && !rules.data} error={rules.error} />
        {rules.data && <RulesPanel list={rules.data} />}
      </section>
      <section>
        <h2>
          Dead letters <span className="muted">notifications given up on after their retries</span>
        </h2>
        <DeadLetters tick={tick} />
      </section>
    </div>
  );
}

const ActiveAlerts = memo(function ActiveAlerts({ alerts, tick }: { alerts: Alert[]; tick: number }) {
  const { canWrite } = useAccess();
  const [silencing, setSilencing] = useState<string | null>(null);
  const opened = useLocation().params.get("attempts");
  return (
    <table className="grid-table">
      <thead>
        <tr>
          <th>state</th>
          <th>rule</th>
          <th>severity</th>
          <th>labels</th>
          <th>value</th>
          <th>since</th>
          <th>summary</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {alerts.map((a) => (
          <Fragment key={a.fingerprint}>
            <tr className={`alert-${a.state}`} data-fingerprint={a.fingerprint}>
              <td>
                <span className={`pill pill-${a.state}`}>{a.state}</span>
                {a.silenced_by.length > 0 && <span className="pill pill-muted">silenced</span>}
                {a.inhibited_by && <span className="pill pill-muted">inhibited</span>}
              </td>
              <td>{a.rule}</td>
              <td>{a.severity}</td>
              <td className="small">{labelText(a.labels)}</td>
              <td>{a.value == null ? "–" : Number(a.value.toPrecision(4))}</td>
              <td title={a.since ? formatTime(a.since) : ""}>{a.since ? formatAge(a.since) : "–"}</td>
              <td className="small">{a.annotations.summary ?? ""}</td>
              <td className="actions">
                <button
                  type="button"
                  data-action="attempts"
                  onClick={() => setParams({ attempts: opened === a.fingerprint ? null : a.fingerprint }, true)}
                >
                  {opened === a.fingerprint ? "Hide attempts" : "Attempts"}
                </button>
                {canWrite && a.state !== "resolved" && a.silenced_by.length === 0 && (
                  <>
                    {silencing === a.fingerprint ? (
                      <SilenceForm alert={a} onDone={() => setSilencing(null)} />
                    ) : (
                      <button type="button" className="write-action" data-action="silence" onClick={() => setSilencing(a.fingerprint)}>
                        Silence…
                      </button>
                    )}
                  </>
                )}
              </td>
            </tr>
            {opened === a.fingerprint && (
              <tr>
                <td colSpan={8}>
                  <Attempts fingerprint={a.fingerprint} tick={tick} />
                </td>
              </tr>
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
});

function SilenceForm({ alert, onDone }: { alert: Alert; onDone: () => void }) {
  const [duration, setDuration] = useState("1h");
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const matchers = Object.entries(alert.labels).map(([name, value]) => ({ name, op: "=", value }));
  return (
    <form
      className="silence-form"
      onSubmit={(e) => {
        e.preventDefault();
        api
          .createSilence({ matchers, duration, comment: comment || `silenced from the dashboard: ${alert.rule}`, created_by: "dashboard" })
          .then(() => {
            onDone();
            refreshNow();
          })
          .catch((exc: unknown) => setError(exc instanceof Error ? exc.message : String(exc)));
      }}
    >
      <div className="small">{matchers.map((m) => `${m.name}="${m.value}"`).join(", ")}</div>
      <select value={duration} onChange={(e) => setDuration(e.target.value)} aria-label="Silence duration">
        {["15m", "1h", "4h", "24h"].map((d) => (
          <option key={d}>{d}</option>
        ))}
      </select>
      <input placeholder="comment" value={comment} onChange={(e) => setComment(e.target.value)} />
      <button type="submit" className="write-action" data-action="create-silence">
        Create silence
      </button>
      <button type="button" onClick={onDone}>
        Cancel
      </button>
      {error && <div className="error">{error}</div>}
    </form>
  );
}

const Silences = memo(function Silences({ silences }: { silences: Silence[] }) {
  const { canWrite } = useAccess();
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      {error && <div className="status error">{error}</div>}
      <table className="grid-table">
        <thead>
          <tr>
            <th>state</th>
            <th>matchers</th>
            <th>starts</th>
            <th>ends</th>
            <th>comment</th>
            <th>by</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {silences.map((s) => (
            <tr key={s.id} data-silence={s.id}>
              <td>
                <span className={`pill pill-${s.state}`}>{s.state}</span>
              </td>
              <td>
                <code>{s.matchers_text}</code>
              </td>
              <td>{formatTime(s.starts_at_ms)}</td>
              <td>{formatTime(s.ends_at_ms)}</td>
              <td>{s.comment}</td>
              <td>{s.created_by}</td>
              <td>
                {canWrite && s.state !== "expired" && (
                  <button
                    type="button"
                    className="write-action"
                    data-action="expire-silence"
                    onClick={() =>
                      api.expireSilence(s.id).then(refreshNow, (exc: unknown) => setError(exc instanceof Error ? exc.message : String(exc)))
                    }
                  >
                    Expire
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
});

const History = memo(function History({ entries }: { entries: AlertTransition[] }) {
  return (
    <div className="table">
      <div className="thead history-line">
        <span>at</span>
        <span>rule</span>
        <span>transition</span>
        <span>value</span>
        <span>labels</span>
      </div>
      <VirtualList
        items={entries}
        rowHeight={26}
        height={Math.min(360, entries.length * 26 + 2)}
        renderRow={(e) => (
          <div className="history-line">
            <span>{formatTime(e.at)}</span>
            <span>{e.rule}</span>
            <span>
              {e.previous} → <span className={`pill pill-${e.state}`}>{e.state}</span>
            </span>
            <span>{e.value == null ? "–" : Number(e.value.toPrecision(4))}</span>
            <span className="small ellipsis">{labelText(e.labels)}</span>
          </div>
        )}
      />
    </div>
  );
});
