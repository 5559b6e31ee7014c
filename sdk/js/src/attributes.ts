/** Span tags and log attributes: scalars stored as text, sensitive keys redacted, bounded. */

import { LIMITS } from "./limits.js";
import type { Labels } from "./limits.js";

/** What a tag or attribute may be given as; stored as text. */
export type AttributeValue = string | number | boolean | bigint;
export type Attributes = Record<string, AttributeValue | null | undefined>;

export const REDACTED = "[REDACTED]";
// Keys whose values are secrets (perfpulse's DEFAULT_SENSITIVE_KEYS): a key containing one is
// redacted before it leaves the process. Secrets inside free text are masked by perfpulse's sink.
const SENSITIVE = [
  "authorization", "password", "passwd", "secret", "token", "api_key", "apikey", "cookie", "set-cookie",
  "x-api-key", "proxy-authorization", "private_key", "client_secret", "access_token", "refresh_token",
];

function sensitive(key: string): boolean {
  const lower = key.toLowerCase();
  return SENSITIVE.some((s) => lower.includes(s));
}

/** `attributes` as text, sensitive values redacted, at most `LIMITS.maxAttributes` of them (the
 * first ones) and each value cut to `LIMITS.maxAttributeValueLength` characters. */
export function toText(attributes: Attributes | undefined, into: Labels = {}): Labels {
  if (attributes === undefined) return into;
  let count = Object.keys(into).length;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    if (!(key in into) && count >= LIMITS.maxAttributes) break;
    if (!(key in into)) count++;
    const textValue = sensitive(key) ? REDACTED : String(value);
    into[key] = textValue.length > LIMITS.maxAttributeValueLength ? textValue.slice(0, LIMITS.maxAttributeValueLength) : textValue;
  }
  return into;
}
