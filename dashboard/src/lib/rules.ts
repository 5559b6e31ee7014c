// The rule editor's form and what it sends: a rule in force (GET /api/v1/rules, durations in ms)
// becomes form fields, and the fields become the body POST/PUT /api/v1/rules take (the rules file's
// keys). What the form does not show (labels, other annotations, keep_firing_for, window) is kept as
// the rule had it, so an edit changes only what was edited.
import type { Rule, RuleBody } from "./types";

export interface RuleForm {
  name: string;
  condition: string; // "response_time.p95 > 200"
  forText: string; // "30s"; empty: fire at the first breach
  severity: string; // critical | warning | info
  notification: string; // channel names, comma-separated
  groupBy: string; // label names, comma-separated
  summary: string; // the summary annotation (a template)
}

export const SEVERITIES = ["critical", "warning", "info"] as const;

/** ``ms`` as the API reads a duration: whole hours, minutes or seconds when it is, else ms. */
export function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

const list = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

/** The form of ``rule`` (null: a new rule). */
export function formOf(rule: Rule | null): RuleForm {
  if (!rule) return { name: "", condition: "", forText: "1m", severity: "warning", notification: "", groupBy: "service", summary: "" };
  return {
    name: rule.name,
    condition: rule.condition,
    forText: rule.for_ms > 0 ? durationText(rule.for_ms) : "",
    severity: rule.severity,
    notification: rule.notification.join(", "),
    groupBy: rule.group_by.join(", "),
    summary: rule.annotations.summary ?? "",
  };
}

/** The body to send for ``form``; ``original`` is the rule being edited (null: a new one). */
export function bodyOf(form: RuleForm, original: Rule | null): RuleBody {
  const body: RuleBody = { name: form.name.trim(), condition: form.condition.trim(), severity: form.severity };
  if (form.forText.trim()) body.for = form.forText.trim();
  if (list(form.notification).length) body.notification = list(form.notification);
  if (list(form.groupBy).length) body.group_by = list(form.groupBy);
  const annotations = { ...(original?.annotations ?? {}) };
  if (form.summary.trim()) annotations.summary = form.summary.trim();
  else delete annotations.summary;
  if (Object.keys(annotations).length) body.annotations = annotations;
  if (original && Object.keys(original.labels).length) body.labels = original.labels;
  if (original && original.keep_firing_for_ms > 0) body.keep_firing_for = durationText(original.keep_firing_for_ms);
  if (original?.window_ms) body.window = durationText(original.window_ms);
  return body;
}
