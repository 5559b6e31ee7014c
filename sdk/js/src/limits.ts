/**
 * Validation limits and field checks, the same as perfpulse's (schemas/limits.py, schemas/checks.py):
 * what the SDK refuses at the call is what perfpulse would refuse at ingest.
 */

export const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
export const SERVICE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/;
export const LABEL_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export const LIMITS = {
  maxNameLength: 200, // characters in a metric name or span operation
  maxServiceLength: 100,
  maxLabels: 32, // labels on one point, default labels included
  maxLabelKeyLength: 100,
  maxLabelValueLength: 1024,
  maxPointsPerRecord: 2000, // points per Kafka record (and per HTTP request)
  maxItemsPerRecord: 500, // spans or log records per Kafka record (and per HTTP request)
  maxRecordBytes: 512 * 1024, // encoded size a Kafka record stays under
  maxAbsValue: 1e18,
  maxAttributes: 128, // tags on a span, attributes on a log record
  maxSpanEvents: 128,
  maxAttributeValueLength: 8192,
  maxMessageLength: 32_768,
} as const;

/** Labels as perfpulse stores them: names to text values. */
export type Labels = Record<string, string>;

/** Undefined when `service` is acceptable, else the reason naming it. */
export function checkService(service: unknown): string | undefined {
  if (typeof service !== "string" || service === "") return `service must be a non-empty string, got ${show(service)}`;
  if (service.length > LIMITS.maxServiceLength) {
    return `service is ${service.length} characters long, the limit is ${LIMITS.maxServiceLength}`;
  }
  if (!SERVICE_PATTERN.test(service)) return `service ${show(service)} has characters outside [A-Za-z0-9_.:/-]`;
  return undefined;
}

/** Undefined when `name` is an acceptable metric name, else the reason naming it. */
export function checkMetricName(name: unknown): string | undefined {
  if (typeof name !== "string" || name === "") return `name must be a non-empty string, got ${show(name)}`;
  if (name.length > LIMITS.maxNameLength) {
    return `name is ${name.length} characters long, the limit is ${LIMITS.maxNameLength}`;
  }
  if (!METRIC_NAME_PATTERN.test(name)) {
    return `name ${show(name)} must start with a letter or '_' and use only [A-Za-z0-9_.:/-]`;
  }
  return undefined;
}

/** Undefined when a merged label set is acceptable, else the reason naming the offending label. */
export function checkLabels(labels: Labels): string | undefined {
  const keys = Object.keys(labels);
  if (keys.length > LIMITS.maxLabels) return `${keys.length} labels, the limit is ${LIMITS.maxLabels}`;
  for (const key of keys) {
    const value = labels[key];
    if (!LABEL_KEY_PATTERN.test(key)) {
      return `label name ${show(key)} must start with a letter or '_' and use only [A-Za-z0-9_.-]`;
    }
    if (key === "service") return `label name 'service' is reserved (it is the envelope's service)`;
    if (key.length > LIMITS.maxLabelKeyLength) {
      return `label name ${show(key.slice(0, 40))}... is longer than ${LIMITS.maxLabelKeyLength} characters`;
    }
    if (typeof value !== "string") return `label ${show(key)} must be a string, got ${typeof value}`;
    if (value.length > LIMITS.maxLabelValueLength) {
      return `label ${show(key)} value is longer than ${LIMITS.maxLabelValueLength} characters`;
    }
  }
  return undefined;
}

/** A value quoted for an error message, cut to 60 characters. */
export function show(value: unknown): string {
  const text = typeof value === "string" ? `'${value}'` : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
