/**
 * The current span, carried through async calls by AsyncLocalStorage: a span started inside
 * another's callback (or in any promise, timer or task begun there) is its child, and sibling
 * tasks never see each other's spans. One storage per process, shared by every client, as
 * perfpulse's Python SDK shares one contextvar.
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { randomFillSync } from "node:crypto";

import type { SpanContext } from "./traceparent.js";

/** What a span in progress exposes to the context: its place in the trace. */
export interface ContextCarrier {
  readonly context: SpanContext;
}

const storage = new AsyncLocalStorage<ContextCarrier | SpanContext>();

/** Run `fn` with `current` as the current span (or remote parent); undefined starts a new trace. */
export function runWithContext<T>(current: ContextCarrier | SpanContext | undefined, fn: () => T): T {
  return storage.run(current as ContextCarrier | SpanContext, fn);
}

/** The current span or remote parent, if any. */
export function currentCarrier(): ContextCarrier | SpanContext | undefined {
  return storage.getStore() ?? undefined;
}

/** The trace context of the current span, if any. */
export function currentContext(): SpanContext | undefined {
  const store = storage.getStore();
  if (store === undefined || store === null) return undefined;
  return "context" in store ? store.context : store;
}

// Ids are cut from a pool of random bytes: one syscall per 256 ids, not one per id.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolUsed = POOL_BYTES;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolUsed + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolUsed = 0;
    }
    const hex = pool.toString("hex", poolUsed, poolUsed + bytes);
    poolUsed += bytes;
    if (!/^0+$/.test(hex)) return hex; // all-zero ids are invalid
  }
}

/** A new trace id: 32 lowercase hex digits. */
export function newTraceId(): string {
  return randomHex(16);
}

/** A new span id: 16 lowercase hex digits. */
export function newSpanId(): string {
  return randomHex(8);
}
