/** What the client needs of a transport: send one batch of each kind, and close. */

import type { LogRecord, SeriesPoints, SpanRecord } from "../records.js";

export interface Transport {
  /** Send a batch of series of `service`; resolves once perfpulse (or Kafka) acknowledged it. */
  sendMetrics(service: string, batch: SeriesPoints[]): Promise<void>;
  sendSpans(service: string, spans: SpanRecord[]): Promise<void>;
  sendLogs(service: string, records: LogRecord[]): Promise<void>;
  /** Release connections; nothing is sent after. */
  close(): Promise<void>;
}

/**
 * A batch that could not be sent. `retryable`: perfpulse or Kafka was unavailable (the batch is
 * kept and sent again); otherwise it was refused (the batch is dropped and counted).
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TransportError";
  }
}
