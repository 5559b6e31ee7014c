// The rules in force, and for an admin key their editor: validate, create, edit, delete. Every
// change goes through the rules API, which rewrites the rules file only when the whole file still
// loads; its refusal (each problem's file:line:column) is shown as the API wrote it.
import { memo, useState } from "react";
import * as api from "../../lib/api";
import { useAccess } from "../../lib/auth";
import { formatMs } from "../../lib/format";
import { refreshNow } from "../../lib/refresh";
import { bodyOf, formOf, type RuleForm, SEVERITIES } from "../../lib/rules";
import type { Channel, Rule, RulesList, RulesValidation } from "../../lib/types";

const message = (exc: unknown) => (exc instanceof Error ? exc.message : String(exc));

export const RulesPanel = memo(function RulesPanel({ list }: { list: RulesList }) {
  const { canWrite } = useAccess();
  const [editing, setEditing] = useState<{ original: Rule | null } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const remove = (name: string) => {
    setConfirming(null);
    api.deleteRule(name).then(
      () => {
        setError(null);
        refreshNow();
      },
      (exc: unknown) => setError(message(exc)),
    );
  };
  return (
    <>
      <div className="small muted">
        {list.file}
        {list.loaded ? "" : " (does not load: the last valid rules are in force)"}
      </div>
      {list.errors.map((e) => (
        <div key={`${e.line}:${e.column}`} className="status error">
          {e.file}:{e.line}:{e.column}: {e.reason}
        </div>
      ))}
      {error && <div className="status error">{error}</div>}
      {canWrite && !editing && (
        <button type="button" className="write-action" data-action="new-rule" onClick={() => setEditing({ original: null })}>
          New rule…
        </button>
      )}
      {editing && <RuleEditor key={editing.original?.name ?? ""} original={editing.original} channels={list.channels} onDone={() => setEditing(null)} />}
      <table className="grid-table rules-table">
        <thead>
          <tr>
            <th>name</th>
            <th>condition</th>
            <th>for</th>
            <th>severity</th>
            <th>notification</th>
            <th>group by</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.rules.map((r) => (
            <tr key={r.name} data-rule={r.name}>
              <td>{r.name}</td>
              <td>
                <code>{r.condition}</code>
              </td>
              <td>{formatMs(r.for_ms)}</td>
              <td>{r.severity}</td>
              <td>{r.notification.join(", ")}</td>
              <td>{r.group_by.join(", ")}</td>
              <td className="actions">
                {canWrite && (
                  <>
                    <button type="button" className="write-action" data-action="edit-rule" onClick={() => setEditing({ original: r })}>
                      Edit
                    </button>
                    {confirming === r.name ? (
                      <>
                        <button type="button" className="write-action danger" data-action="confirm-delete" onClick={() => remove(r.name)}>
                          Delete {r.name}
                        </button>
                        <button type="button" onClick={() => setConfirming(null)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <button type="button" className="write-action" data-action="delete-rule" onClick={() => setConfirming(r.name)}>
                        Delete…
                      </button>
                    )}
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
});

interface EditorProps {
  original: Rule | null; // null: a new rule
  channels: Channel[];
  onDone: () => void;
}

function RuleEditor({ original, channels, onDone }: EditorProps) {
  const [form, setForm] = useState<RuleForm>(() => formOf(original));
  const [check, setCheck] = useState<RulesValidation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const field = (name: keyof RuleForm) => ({
    value: form[name],
    onChange: (e: { target: { value: string } }) => {
      setForm({ ...form, [name]: e.target.value });
      setCheck(null);
    },
  });
  const body = () => bodyOf(form, original);
  return (
    <form
      className="rule-editor"
      onSubmit={(e) => {
        e.preventDefault();
        api.saveRule(body(), original?.name ?? null).then(
          () => {
            onDone();
            refreshNow();
          },
          (exc: unknown) => setError(message(exc)),
        );
      }}
    >
      <h3>{original ? `Edit rule ${original.name}` : "New rule"}</h3>
      <label>
        name <input name="name" required {...field("name")} />
      </label>
      <label className="wide">
        condition <input name="condition" required placeholder="response_time.p95 > 200" {...field("condition")} />
      </label>
      <label>
        for <input name="for" placeholder="1m" {...field("forText")} />
      </label>
      <label>
        severity
        <select name="severity" {...field("severity")}>
          {SEVERITIES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        notification <input name="notification" placeholder={channels.map((c) => c.name).join(", ")} {...field("notification")} />
      </label>
      <label>
        group by <input name="group_by" {...field("groupBy")} />
      </label>
      <label className="wide">
        summary <input name="summary" placeholder="{{ $labels.service }} p95 is {{ $value }} ms" {...field("summary")} />
      </label>
      <div className="editor-actions">
        <button
          type="button"
          data-action="validate-rule"
          onClick={() => api.validateRule(body()).then(setCheck, (exc: unknown) => setError(message(exc)))}
        >
          Validate
        </button>
        <button type="submit" className="write-action" data-action="save-rule">
          {original ? "Save" : "Create"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      {check && (
        <div className={`validation ${check.valid ? "valid" : "invalid"}`} data-valid={check.valid}>
          {check.valid ? "Valid: the rules file loads with this rule." : "Not valid:"}
          {check.errors.map((e) => (
            <div key={`${e.line}:${e.column}:${e.reason}`}>
              line {e.line}, column {e.column}: {e.reason}
            </div>
          ))}
          {check.warnings.map((w) => (
            <div key={w} className="muted">
              {w}
            </div>
          ))}
        </div>
      )}
      {error && <div className="error">{error}</div>}
    </form>
  );
}
