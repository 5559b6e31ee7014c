/**
 * Kafka transport: the records perfpulse's Python SDK writes (src/wire.ts, same bytes, key and
 * type header) to the `<prefix>metrics|spans|logs` topics, through @platformatic/kafka (pure
 * JavaScript, speaks Kafka 4), loaded on first use so HTTP-only users need not install it.
 * Partitions are chosen as the Java client and aiokafka choose them (murmur2 of the key), so a
 * service's records land in the partition its Python-written records land in.
 */

import { LIMITS } from "../limits.js";
import type { LogRecord, SeriesPoints, SpanRecord } from "../records.js";
import { logsRecord, metricsRecord, spansRecord } from "../wire.js";
import type { WireRecord } from "../wire.js";
import { TransportError } from "./types.js";
import type { Transport } from "./types.js";

export interface KafkaTransportOptions {
  /** Kafka bootstrap servers, `host:port[,host:port...]`. */
  bootstrap: string;
  /** Topic name prefix (perfpulse's PERFPULSE_TOPIC_PREFIX; default `perfpulse.`). */
  topicPrefix?: string;
  clientId?: string;
  /** Per request, milliseconds (default 10 000). */
  timeoutMs?: number;
}

type KafkaModule = typeof import("@platformatic/kafka");
type Producer = InstanceType<KafkaModule["Producer"]>;

export class KafkaTransport implements Transport {
  private readonly options: Required<KafkaTransportOptions>;
  private producer: Promise<Producer> | undefined;

  constructor(options: KafkaTransportOptions) {
    if (!options.bootstrap) throw new TypeError("cannot create Kafka transport: bootstrap is empty");
    this.options = {
      topicPrefix: "perfpulse.",
      clientId: "perfpulse-sdk-js",
      timeoutMs: 10_000,
      ...options,
    };
    // Loading the client takes a while (seconds on a busy machine): begin now, not at the first
    // send, so a short-lived process still delivers before its close timeout.
    this.connect().catch(() => undefined);
  }

  async sendMetrics(service: string, batch: SeriesPoints[]): Promise<void> {
    await this.send("metrics", split(batch, (part) => metricsRecord(service, part)));
  }

  async sendSpans(_service: string, spans: SpanRecord[]): Promise<void> {
    await this.send("spans", split(spans, spansRecord));
  }

  async sendLogs(_service: string, records: LogRecord[]): Promise<void> {
    await this.send("logs", split(records, logsRecord));
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer !== undefined) await (await producer.catch(() => undefined))?.close().catch(() => undefined);
  }

  private connect(): Promise<Producer> {
    this.producer ??= import("@platformatic/kafka").then(
      (kafka) =>
        new kafka.Producer({
          clientId: this.options.clientId,
          bootstrapBrokers: this.options.bootstrap.split(",").map((b) => b.trim()),
          timeout: this.options.timeoutMs,
          retries: 0, // the client retries the batch itself, with backoff
          acks: -1, // all in-sync replicas, as perfpulse's producers
          autocreateTopics: false,
          partitioner: kafka.compatibilityPartitioner,
        }),
      (error: unknown) => {
        this.producer = undefined;
        throw new TransportError(
          `cannot load @platformatic/kafka (install it beside @perfpulse/sdk to send to Kafka): ${String(error)}`,
          false,
          { cause: error },
        );
      },
    );
    return this.producer;
  }

  private async send(kind: "metrics" | "spans" | "logs", records: WireRecord[]): Promise<void> {
    const producer = await this.connect();
    const topic = `${this.options.topicPrefix}${kind}`;
    const messages = records.map((r) => ({
      topic,
      key: Buffer.from(r.key),
      value: Buffer.from(r.value),
      headers: new Map(r.headers.map(([name, value]) => [Buffer.from(name), Buffer.from(value)])),
    }));
    try {
      await producer.send({ messages });
    } catch (error) {
      // A record the broker refuses for its size will be refused again; anything else
      // (unreachable, leader moved, timed out) is worth another try.
      const text = String((error as { message?: unknown }).message ?? error);
      const refused = /too large|RECORD_LIST_TOO_LARGE|MESSAGE_TOO_LARGE|INVALID_RECORD/i.test(text);
      if (!refused) {
        this.producer = undefined;
        void producer.close().catch(() => undefined);
      }
      throw new TransportError(`cannot send ${kind} to Kafka at ${this.options.bootstrap}: ${text}`, !refused, {
        cause: error,
      });
    }
  }
}

/** Records of `items`, halved until each stays under the record size perfpulse writes. */
function split<T>(items: T[], encode: (part: T[]) => WireRecord): WireRecord[] {
  const record = encode(items);
  if (items.length <= 1 || Buffer.byteLength(record.value) <= LIMITS.maxRecordBytes) return [record];
  const half = Math.ceil(items.length / 2);
  return [...split(items.slice(0, half), encode), ...split(items.slice(half), encode)];
}
