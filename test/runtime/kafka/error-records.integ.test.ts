/**
 * Error records within the error topic's max.message.bytes, on the real broker (issue 28, defect 4). The real
 * Dispatcher and KafkaRelay (its kafkajs producer, which reads the topic's limit with DescribeConfigs), with onError
 * LOG; the target is an in-process stub of the Lambda client that fails every batch. Every failed record must be on
 * the error topic — its bytes, or its coordinates, sizes and digest with `truncated: true` — each error record
 * within the topic's limit, and the partition acknowledged: a record the broker refuses would stop the partition
 * until the mapping's retries end.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../../testenv';
import {
  Dispatcher,
  EmfMetrics,
  JsonLogger,
  KafkaRelay,
  KafkaRelayOptions,
  kafkajsProducerFactory,
  ProducerFactory,
  TargetInvoker,
} from '../../../runtime';
import { kafkaEvent, lambdaContext, RecordSpec } from '../support';

jest.setTimeout(180_000);

/** The broker's default max.message.bytes (message.max.bytes): 1 MiB and 12 bytes of log overhead. */
const BROKER_DEFAULT = 1_048_588;
const SMALL = 64 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** 8 KB of non-ASCII text: 2,731 three-byte characters. */
const text8k = (i: number) => `${i}:${'€'.repeat(2731)}`;

interface Raw {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}
/** key + value + header names and values: what the broker counts of a record, less its framing. */
const bytesOf = (m: Raw) =>
  m.key.length + m.value.length + Object.entries(m.headers).reduce((n, [k, v]) => n + Buffer.byteLength(k) + v.length, 0);

/** Reads a topic from the beginning, as bytes, until `done` holds for what was read. */
async function readUntil(topic: string, done: (got: Raw[]) => boolean, timeoutMs = 30_000): Promise<Raw[]> {
  const { Kafka, logLevel } = await import('kafkajs');
  const consumer = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).consumer({
    groupId: `read-${randomUUID()}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  const out: Raw[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} messages from ${topic}, not all yet`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, Buffer> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = Buffer.from(v as Buffer);
          out.push({ key: message.key!, value: message.value!, headers });
          if (done(out)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The offsets an error record covers, from its records (each the event's record, or its truncated stand-in). */
const offsetsOf = (m: Raw): number[] =>
  (JSON.parse(m.value.toString('utf8')).records as { offset: number }[]).map((r) => Number(r.offset));
const covers = (n: number) => (got: Raw[]) => got.flatMap(offsetsOf).length >= n;

/** A Lambda client whose target fails every batch; it keeps each payload it was sent. */
function failingTarget() {
  const payloads: string[] = [];
  const client = {
    send: async (cmd: { input: { Payload: Uint8Array } }) => {
      payloads.push(Buffer.from(cmd.input.Payload).toString('utf8'));
      return {
        StatusCode: 200,
        FunctionError: 'Unhandled',
        ExecutedVersion: '$LATEST',
        Payload: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: 'failed on purpose: ünïcødé' })),
      };
    },
    destroy: () => undefined,
  };
  return { client: client as unknown as LambdaClient, payloads };
}

/** The real producer, counting the broker's refusals (what the old relay hit). */
function countingProducer(refused: Error[]): ProducerFactory {
  return (settings, logger) => {
    const real = kafkajsProducerFactory(settings, logger);
    return {
      send: (topic, messages) =>
        real.send(topic, messages).catch((e: Error) => {
          refused.push(e);
          throw e;
        }),
      disconnect: () => real.disconnect(),
      maxMessageBytes: real.maxMessageBytes && ((topic: string) => real.maxMessageBytes!(topic)),
    };
  };
}

describe("error records within the error topic's max.message.bytes (real broker)", () => {
  const env = te.loadEnv();
  const relays: KafkaRelay[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.disconnect()));
  });

  const id = () => randomUUID().slice(0, 8);
  async function errorTopic(maxMessageBytes?: number): Promise<string> {
    const topic = `errsize-${id()}`;
    await te.createTopic(
      topic,
      1,
      undefined,
      maxMessageBytes === undefined ? [] : [{ name: 'max.message.bytes', value: String(maxMessageBytes) }],
    );
    return topic;
  }
  function dispatcher(topic: string, relayOptions: Partial<KafkaRelayOptions> = {}) {
    const target = failingTarget();
    const refused: Error[] = [];
    const relay = new KafkaRelay({
      bootstrapServers: [env.kafka.bootstrap.plaintext],
      errorTopic: topic,
      producerFactory: countingProducer(refused),
      ...relayOptions,
    });
    relays.push(relay);
    const d = new Dispatcher({
      invoker: new TargetInvoker({ functionName: 'target', client: target.client, maxAttempts: 1 }),
      onError: 'log',
      relay,
      reportBatchItemFailures: true,
      logger: new JsonLogger({ write: () => undefined }),
      metrics: new EmfMetrics({ write: () => undefined }),
    });
    return { d, target, refused, relay };
  }
  const specs = (topic: string, n: number, value: (i: number) => string): RecordSpec[] =>
    Array.from({ length: n }, (_, i) => ({ topic, partition: 3, offset: 1000 + i, key: `k${i}`, value: value(i) }));

  /** Each record's offset is on the topic exactly once, in the range its error record names, each within the limit. */
  function expectEveryFailure(got: Raw[], source: string, n: number, limit: number): any[] {
    const offsets: number[] = [];
    for (const m of got) {
      expect(bytesOf(m)).toBeLessThanOrEqual(limit);
      const key = JSON.parse(m.key.toString('utf8'));
      const own = offsetsOf(m);
      expect(key).toEqual({ topic: source, partition: 3, startOffset: own[0], endOffset: own[own.length - 1] + 1 });
      offsets.push(...own);
    }
    expect(offsets).toEqual(Array.from({ length: n }, (_, i) => 1000 + i));
    return got.map((m) => JSON.parse(m.value.toString('utf8')));
  }

  test.each([
    ['64 KiB', SMALL],
    ["the broker's default", undefined],
  ])(
    'a failed batch of 100 records of 8 KB non-ASCII text, error topic of %s: every record on it, each error record within the limit, the partition acknowledged',
    async (_label, max) => {
      // GIVEN an error topic with this max.message.bytes, and a target failing the whole batch of 100
      const topic = await errorTopic(max);
      const source = `src-${id()}`;
      const { d, target, refused, relay } = dispatcher(topic);
      // WHEN the dispatcher handles the event with onError LOG
      const out = await d.handle(kafkaEvent(specs(source, 100, text8k)), lambdaContext());
      // THEN the partition is acknowledged, the broker refused nothing
      expect(out).toEqual({ batchItemFailures: [] });
      expect(refused).toEqual([]);
      // AND the relay sized error records for the topic's max.message.bytes, read from the broker (DescribeConfigs)
      expect(await relay.errorTopicMaxMessageBytes()).toBe(max ?? BROKER_DEFAULT);
      expect(target.payloads).toHaveLength(1);
      // AND every record is on the error topic with its bytes, each error record within the topic's limit
      const values = expectEveryFailure(await readUntil(topic, covers(100)), source, 100, max ?? BROKER_DEFAULT);
      const records = values.flatMap((v) => v.records);
      expect(records.every((r) => r.truncated === undefined)).toBe(true);
      expect(records.map((r) => Buffer.from(r.value, 'base64').toString('utf8'))).toEqual(
        Array.from({ length: 100 }, (_, i) => text8k(i)),
      );
      for (const v of values)
        expect(v).toMatchObject({ functionName: 'target', statusCode: 200, functionError: 'Unhandled', outcome: 'failed' });
      // AND the input payload (~820 KB of UTF-8) is on the first error record when it fits there, else said to be omitted
      const payloadBytes = Buffer.byteLength(target.payloads[0]);
      if (max === SMALL) {
        expect(values[0]).toMatchObject({ inputPayload: null, inputPayloadOmitted: true, inputPayloadBytes: payloadBytes });
        expect(values.length).toBeGreaterThanOrEqual(15);
      } else {
        expect(values[0].inputPayload).toBe(target.payloads[0]);
        expect(values[0].inputPayloadOmitted).toBeUndefined();
      }
      for (const v of values.slice(1)) expect(v.inputPayload).toBeNull();
    },
  );

  test.each([
    ['64 KiB', SMALL, 100 * 1024],
    ["the broker's default", undefined, 800 * 1024],
  ])(
    'one record bigger than the limit, error topic of %s: its coordinates, sizes and sha256 with truncated: true, the partition acknowledged',
    async (_label, max, size) => {
      // GIVEN one record of non-ASCII text bigger than the topic takes (base64 in the error record: a third more)
      const topic = await errorTopic(max);
      const source = `src-${id()}`;
      const value = Buffer.from('ж'.repeat(size / 2));
      const { d, target, refused } = dispatcher(topic);
      // WHEN its invocation fails
      const out = await d.handle(kafkaEvent([{ topic: source, partition: 3, offset: 1000, key: 'big', value }]), lambdaContext());
      // THEN the partition is acknowledged and the broker refused nothing
      expect(out).toEqual({ batchItemFailures: [] });
      expect(refused).toEqual([]);
      // AND the error record stands for the record by its coordinates, sizes and digests, within the limit
      const [v] = expectEveryFailure(await readUntil(topic, covers(1)), source, 1, max ?? BROKER_DEFAULT);
      expect(v.truncated).toBe(true);
      expect(v.records).toEqual([
        {
          truncated: true,
          topic: source,
          partition: 3,
          offset: 1000,
          timestamp: 1_700_000_001_000,
          timestampType: 'CREATE_TIME',
          keyBytes: 3,
          keySha256: sha256(Buffer.from('big')),
          valueBytes: size,
          valueSha256: sha256(value),
          headersBytes: 0,
        },
      ]);
      expect(v.payload).toBe(JSON.stringify({ errorType: 'Error', errorMessage: 'failed on purpose: ünïcødé' }));
      // AND the input payload (the value as text, about `size` bytes) is there when it fits, else said to be omitted
      const payloadBytes = Buffer.byteLength(target.payloads[0]);
      if (max === SMALL)
        expect(v).toMatchObject({ inputPayload: null, inputPayloadOmitted: true, inputPayloadBytes: payloadBytes });
      else expect(v.inputPayload).toBe(target.payloads[0]);
    },
  );

  test("errorTopicMaxMessageBytes set above what the topic takes: the broker's refusal is answered with each record's coordinates and digest, the partition acknowledged", async () => {
    // GIVEN a 64 KiB error topic and a relay told it takes 1 MiB
    const topic = await errorTopic(SMALL);
    const source = `src-${id()}`;
    const { d, refused } = dispatcher(topic, { errorTopicMaxMessageBytes: 1_048_576 });
    // WHEN 20 records of 8 KB fail (error records of about 220 KB: too large for the topic)
    const out = await d.handle(kafkaEvent(specs(source, 20, text8k)), lambdaContext());
    // THEN the broker refused the first send, the relay sent each record's stand-in instead, and the partition is acknowledged
    expect(out).toEqual({ batchItemFailures: [] });
    expect(refused.length).toBeGreaterThanOrEqual(1);
    const values = expectEveryFailure(await readUntil(topic, covers(20)), source, 20, SMALL);
    for (const v of values) {
      expect(v).toMatchObject({ truncated: true, inputPayload: null });
      const [r] = v.records;
      expect(v.records).toEqual([
        expect.objectContaining({ truncated: true, offset: r.offset, valueBytes: Buffer.byteLength(text8k(r.offset - 1000)) }),
      ]);
    }
  });

  test("errorTopicMaxMessageBytes below the topic's: error records are sized for the smaller limit", async () => {
    // GIVEN an error topic with the broker's default limit and a relay told 64 KiB
    const topic = await errorTopic();
    const source = `src-${id()}`;
    const { d, refused } = dispatcher(topic, { errorTopicMaxMessageBytes: SMALL });
    // WHEN 30 records of 8 KB fail
    expect(await d.handle(kafkaEvent(specs(source, 30, text8k)), lambdaContext())).toEqual({ batchItemFailures: [] });
    // THEN each error record is within 64 KiB
    expect(refused).toEqual([]);
    const values = expectEveryFailure(await readUntil(topic, covers(30)), source, 30, SMALL);
    expect(values.length).toBeGreaterThanOrEqual(5);
  });
});
