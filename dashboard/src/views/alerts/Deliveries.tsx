// What became of notifications: the delivery attempts of one alert's notifications, and the dead
// letters (notifications given up on) with, for an admin key, a redelivery.
import { memo, useState } from "react";
import { Status } from "../../components/Status";
import * as api from "../../lib/api";
import { useAccess } from "../../lib/auth";
import { formatMs, formatTime } from "../../lib/format";
import { refreshNow } from "../../lib/refresh";
import type { DeadLetter } from "../../lib/types";
import { useApi } from "../../lib/useApi";

export const Attempts = memo(function Attempts({ fingerprint, tick }: { fingerprint: string; tick: number }) {
  const found = useApi(`attempts-${fingerprint}-${tick}`, (signal) => api.attempts(fingerprint, signal));
  return (
    <div className="attempts" data-attempts={fingerprint}>
      <Status loading={found.loading && !found.data} error={found.error} empty={found.data?.attempts.length === 0 && "No notification of this alert was sent yet."} />
      {found.data && found.data.attempts.length > 0 && (
        <table className="grid-table small">
          <thead>
            <tr>
              <th>at</th>
              <th>channel</th>
              <th>target</th>
              <th>#</th>
              <th>outcome</th>
              <th>status</th>
              <th>took</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {found.data.attempts.map((a) => (
              <tr key={`${a.notification_id}-${a.number}-${a.at}`} className={`outcome-${a.outcome}`}>
                <td>{formatTime(a.at)}</td>
                <td>{a.channel}</td>
                <td>
                  <code>{a.target}</code>
                </td>
                <td>{a.number}</td>
                <td>
                  <span className={`pill pill-${a.outcome === "delivered" ? "ok" : "firing"}`}>{a.outcome}</span>
                  {a.dead_lettered && <span className="pill pill-muted">dead letter</span>}
                </td>
                <td>{a.status_code ?? "–"}</td>
                <td>{formatMs(a.duration_ms)}</td>
                <td>{a.error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
});

export const DeadLetters = memo(function DeadLetters({ tick }: { tick: number }) {
  const found = useApi(`deadletters-${tick}`, (signal) => api.deadLetters(signal));
  return (
    <>
      <Status loading={found.loading && !found.data} error={found.error} empty={found.data?.dead_letters.length === 0 && "No dead letter: every notification was delivered or is still being tried."} />
      {found.data && found.data.dead_letters.length > 0 && (
        <table className="grid-table">
          <thead>
            <tr>
              <th>at</th>
              <th>channel</th>
              <th>target</th>
              <th>attempts</th>
              <th>reason</th>
              <th>alerts</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {found.data.dead_letters.map((d) => (
              <DeadLetterRow key={d.id} letter={d} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
});

function DeadLetterRow({ letter }: { letter: DeadLetter }) {
  const { canWrite } = useAccess();
  const [outcome, setOutcome] = useState<string | null>(null);
  return (
    <tr data-dead-letter={letter.id}>
      <td>{formatTime(letter.at_ms)}</td>
      <td>{letter.channel}</td>
      <td>
        <code>{letter.target}</code>
      </td>
      <td>{letter.attempts}</td>
      <td className="small">{letter.reason}</td>
      <td className="small">
        {letter.notification.status}: {[...new Set(letter.notification.alerts.map((a) => a.rule))].join(", ")}
      </td>
      <td>
        {canWrite && (
          <button
            type="button"
            className="write-action"
            disabled={outcome === "sending…"}
            onClick={() => {
              setOutcome("sending…");
              api.redeliver(letter.id).then(
                (answer) => {
                  const body = answer as { delivered?: boolean; queued?: string };
                  setOutcome(body.queued ? "queued" : body.delivered ? "delivered" : "not delivered");
                  refreshNow();
                },
                (exc: unknown) => setOutcome(exc instanceof Error ? exc.message : String(exc)),
              );
            }}
          >
            Redeliver
          </button>
        )}
        {outcome && <div className="small">{outcome}</div>}
      </td>
    </tr>
  );
}
