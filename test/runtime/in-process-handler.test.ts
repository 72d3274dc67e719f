/**
 * The in-process handlers' own parts, without services: how keys and values reach the user's code (Buffer, text,
 * JSON), a field that is not what its format says taking the error path with its coordinates, the refusal of the
 * other kind of configuration by each handler, and an event without records.
 */
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import {
  dispatcherHandler,
  FieldAs,
  inProcessHandler,
  InProcessRecord,
  inProcessRecordHandler,
} from '../../runtime/dispatcher/handler';
import { JsonLogger } from '../../runtime/logger';
import { kafkaEvent, lambdaContext, RecordSpec } from './support';

/** In process, no store, no relay: a failed partition is named for retry. */
const config: DispatcherConfig = {
  version: 2,
  target: {
    inProcess: true,
    invocationType: 'RequestResponse',
    payloadFormat: 'confluent',
    recordsPerInvocation: 100,
    concurrency: 4,
    maxAttempts: 1,
    baseDelayMs: 1,
    maxDelayMs: 1,
  },
  onError: 'fail',
  reportBatchItemFailures: true,
  timeMarginMs: 0,
};

/** A logger whose lines the test reads. */
function capturedLogger(): { logger: JsonLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new JsonLogger({ write: (line) => lines.push(line) }), lines };
}

// The handlers' embedded metrics go to stdout, as on Lambda: kept out of the test output.
beforeAll(() => jest.spyOn(process.stdout, 'write').mockImplementation(() => true));
afterAll(() => jest.restoreAllMocks());

const spec = (offset: number, key: RecordSpec['key'], value: unknown): RecordSpec => ({
  topic: 'orders',
  partition: 2,
  offset,
  key,
  value,
});

describe('inProcessRecordHandler: the fields your code gets', () => {
  test('GIVEN the defaults WHEN records arrive THEN the key is text and the value JSON; an absent key and a tombstone are null', async () => {
    // GIVEN a handler that keeps what it got
    const got: InProcessRecord<{ n: number }>[] = [];
    const handler = inProcessRecordHandler<{ n: number }>((r) => got.push(r), { config, logger: capturedLogger().logger });
    // WHEN three records arrive: a JSON value with a key, one without a key, a tombstone
    const answer = await handler(
      kafkaEvent([spec(5, 'k-5', { n: 5 }), spec(6, undefined, { n: 6 }), spec(7, 'k-7', undefined)]),
      lambdaContext(),
    );
    // THEN all three ran, typed, with their coordinates
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(got.map((r) => [r.topic, r.partition, r.offset, r.key, r.value])).toEqual([
      ['orders', 2, 5, 'k-5', { n: 5 }],
      ['orders', 2, 6, null, { n: 6 }],
      ['orders', 2, 7, 'k-7', null],
    ]);
    expect(got[0].record.valueAsText()).toBe('{"n":5}');
  });

  test('GIVEN FieldAs.buffer WHEN a value is not UTF-8 THEN your code gets its bytes', async () => {
    // GIVEN a batch handler reading keys and values as bytes
    const got: InProcessRecord<Buffer, Buffer>[] = [];
    const handler = inProcessHandler<Buffer, Buffer>(
      (records) => {
        got.push(...records);
        return records.map(() => null);
      },
      { config, key: FieldAs.buffer, value: FieldAs.buffer, logger: capturedLogger().logger },
    );
    // WHEN a record of bytes that are not text arrives
    const answer = await handler(kafkaEvent([spec(1, 'k', Buffer.from([0xff, 0x00]))]), lambdaContext());
    // THEN the code got both as Buffers
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(Buffer.isBuffer(got[0].key) && got[0].key.toString()).toBe('k');
    expect(Buffer.isBuffer(got[0].value) && got[0].value.toString('hex')).toBe('ff00');
  });

  test('GIVEN FieldAs.text for the value WHEN it is JSON THEN your code gets the text, not a parsed value', async () => {
    const got: unknown[] = [];
    const handler = inProcessRecordHandler((r) => got.push(r.value), {
      config,
      value: FieldAs.text,
      logger: capturedLogger().logger,
    });
    await handler(kafkaEvent([spec(1, 'k', { n: 1 })]), lambdaContext());
    expect(got).toEqual(['{"n":1}']);
  });

  test.each([
    [
      'a value that is not JSON',
      FieldAs.json(),
      FieldAs.text,
      'not json {',
      'k',
      /orders-2@11.*value does not decode: it is not JSON/,
    ],
    [
      'a value that is not UTF-8, read as text',
      FieldAs.text,
      FieldAs.text,
      Buffer.from([0xc3, 0x28]),
      'k',
      /orders-2@11.*value does not decode: it is not UTF-8 text \(text expected\)/,
    ],
    [
      'a key that is not UTF-8, read as text',
      FieldAs.json(),
      FieldAs.text,
      { n: 11 },
      Buffer.from([0xff]),
      /orders-2@11.*key does not decode: it is not UTF-8 text/,
    ],
    [
      'a key that is not JSON, read as JSON',
      FieldAs.json(),
      FieldAs.json(),
      { n: 11 },
      'plain',
      /orders-2@11.*key does not decode: it is not JSON/,
    ],
  ])(
    'fails %s: the record takes the error path with its coordinates, never reaching your code',
    async (_name, valueAs, keyAs, value, key, message) => {
      // GIVEN a handler that counts its calls, and a bad record between two good ones
      const { logger, lines } = capturedLogger();
      const got: unknown[] = [];
      const handler = inProcessRecordHandler((r) => got.push(r.offset), { config, value: valueAs, key: keyAs, logger } as never);
      // WHEN they arrive
      const answer = await handler(
        kafkaEvent([spec(10, '"k"', { n: 10 }), spec(11, key, value), spec(12, '"k"', { n: 12 })]),
        lambdaContext(),
      );
      // THEN the record before it ran, the bad one did not (its partition is retried from it, as onError FAIL says),
      // and the log names it by its coordinates and field
      expect(got).toEqual([10]);
      expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'orders-2', offset: 11 } }] });
      const failure = lines
        .map((l) => JSON.parse(l))
        .find((l) => l.message === 'records not processed; the event source mapping retries them');
      expect(JSON.stringify(failure)).toMatch(/SchemaDecodeError/);
      expect(JSON.stringify(failure)).toMatch(message);
    },
  );
});

describe('the configuration each handler takes', () => {
  const saved = process.env[DISPATCHER_CONFIG_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[DISPATCHER_CONFIG_ENV];
    else process.env[DISPATCHER_CONFIG_ENV] = saved;
  });
  const event = kafkaEvent([spec(1, 'k', { n: 1 })]);

  test("fails when the in-process handler gets a KafkaDispatcher's configuration (a target function), and never calls your code", async () => {
    const calls: unknown[] = [];
    const handler = inProcessRecordHandler((r) => calls.push(r), {
      config: { ...config, target: { ...config.target, inProcess: undefined, functionName: 'orders-target' } },
    });
    await expect(handler(event, lambdaContext())).rejects.toThrow(
      /^CKL_DISPATCHER_CONFIG: config\.target\.inProcess: this configuration is a KafkaDispatcher's \(its target is "orders-target"\); .*attach InProcessDispatcher to this function$/,
    );
    expect(calls).toEqual([]);
  });

  test('fails when the dispatcher handler gets an in-process configuration', async () => {
    const handler = dispatcherHandler({ config });
    await expect(handler(event, lambdaContext())).rejects.toMatchObject({
      name: 'DispatcherConfigError',
      message: expect.stringMatching(/config\.target\.inProcess: .*deploy the dispatcher with KafkaDispatcher/),
    });
  });

  test.each([
    ['value', 'confluent', { value: FieldAs.text }],
    ['value', 'glue', { value: FieldAs.text }],
    ['key', 'mapping-source', {}],
  ] as const)(
    'GIVEN a %s decoded with its schema (%s) WHEN the handler reads it as text THEN every invocation fails naming the formats that fit, and never calls your code',
    async (field, format, fields) => {
      // GIVEN a configuration whose field has schema-encoded bytes, and a handler reading that field as text
      const calls: unknown[] = [];
      const schemas = {
        key: 'bytes',
        value: 'bytes',
        [field]: format,
        ...(format === 'glue' ? { glue: {} } : { confluent: { url: 'https://registry.example', auth: 'none' } }),
      };
      const handler = inProcessRecordHandler((r) => calls.push(r), {
        config: { ...config, schemas } as DispatcherConfig,
        ...fields,
        logger: capturedLogger().logger,
      });
      // WHEN two events arrive THEN each fails with the configuration error
      for (let i = 0; i < 2; i++) {
        await expect(handler(event, lambdaContext())).rejects.toMatchObject({
          name: 'DispatcherConfigError',
          message: expect.stringContaining(
            `config.schemas.${field}: the ${field} is decoded with its schema (${format}), so its bytes are not text: read it with FieldAs.json() (the decoded value) or FieldAs.buffer`,
          ),
        });
      }
      expect(calls).toEqual([]);
    },
  );

  test('GIVEN a value of the mapping in JSON (mapping-json) WHEN the handler reads it as text THEN your code gets its JSON text', async () => {
    const got: unknown[] = [];
    const handler = inProcessRecordHandler((r) => got.push(r.value), {
      config: { ...config, schemas: { key: 'bytes', value: 'mapping-json' } },
      value: FieldAs.text,
      logger: capturedLogger().logger,
    });
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(got).toEqual(['{"n":1}']);
  });

  test('fails naming the field when an in-process configuration names a target function as well', async () => {
    const handler = inProcessRecordHandler(() => null, {
      config: JSON.stringify({ ...config, target: { ...config.target, functionName: 'orders-target' } }),
    });
    await expect(handler(event, lambdaContext())).rejects.toThrow(
      /config\.target\.inProcess: .*config\.target\.functionName must be absent/,
    );
  });

  test('GIVEN the configuration in CKL_DISPATCHER_CONFIG WHEN a record arrives THEN the handler reads it there', async () => {
    process.env[DISPATCHER_CONFIG_ENV] = JSON.stringify(config);
    const got: unknown[] = [];
    const handler = inProcessRecordHandler((r) => got.push(r.value), { logger: capturedLogger().logger });
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(got).toEqual([{ n: 1 }]);
  });

  test.each([
    ['{}', {}],
    ['a Kafka event without records', { eventSource: 'SelfManagedKafka', bootstrapServers: 'b:9092', records: {} }],
    ['a Kinesis event without records', { Records: [] }],
  ])(
    'GIVEN %s WHEN it arrives THEN the handler answers no failures without reading its configuration or calling your code',
    async (_name, empty) => {
      // GIVEN no configuration at all
      delete process.env[DISPATCHER_CONFIG_ENV];
      const calls: unknown[] = [];
      const handler = inProcessHandler((records) => {
        calls.push(records);
        return [];
      });
      // WHEN an empty event arrives THEN it is answered at once
      expect(await handler(empty, lambdaContext())).toEqual({ batchItemFailures: [] });
      expect(calls).toEqual([]);
      // AND a record still finds the configuration missing
      await expect(handler(event, lambdaContext())).rejects.toThrow(/CKL_DISPATCHER_CONFIG/);
    },
  );
});
