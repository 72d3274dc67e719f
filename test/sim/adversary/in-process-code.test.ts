/**
 * The user's code in process, as an adversary writes it: results that have no JSON, thrown values that have no text,
 * and code that mutates the records it gets. Each record runs once across deliveries of the same event, and takes the
 * error path when its result cannot be kept, as with a target function.
 */
import type { DispatcherConfig } from '../../../contract/dispatcher-config';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { FieldAs, inProcessRecordHandler, InProcessRecord } from '../../../runtime/dispatcher/handler';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

/** A dispatcher whose in-process target runs `code` on each batch, on a range store, relaying to both topics. */
function logDispatcher(ledger: Ledger, code: (n: number) => unknown[]): Dispatcher {
  const db = memoryTable();
  return new Dispatcher({
    invoker: inProcessInvoker((records) => {
      for (const r of records) ledger.ran(r);
      return code(records.length);
    }),
    store: new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container: 'c', baseDelayMs: 0 }),
    relay: new RecordingRelay(ledger, 'responses', 'errors'),
    onError: 'log',
    reportBatchItemFailures: true,
    ...quiet,
  });
}

const circular = () => {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
};

describe('results and errors of the code that JSON cannot carry', () => {
  test.each([
    ['a BigInt', (): unknown => 10n],
    ['a circular object', circular],
    ['an object whose toJSON throws', () => ({ toJSON: () => assertNever('CANARY-result') })],
  ])(
    'GIVEN code answering %s WHEN the same event arrives twice THEN each record ran once and is on the error topic once, not retried',
    async (_label, result) => {
      // GIVEN code whose results have no JSON
      const ledger = new Ledger();
      const dispatcher = logDispatcher(ledger, (n) => Array.from({ length: n }, result));
      // WHEN the event arrives, then again (a retry, a duplicate delivery)
      const first = await dispatcher.handle(kafkaEventAt('t', 0, [1, 2]), context());
      const second = await dispatcher.handle(kafkaEventAt('t', 0, [1, 2]), context());
      // THEN nothing is retried, each record ran once and took the error path once
      expect([first, second]).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
      expect(ledger.twice()).toEqual([]);
      expect([...ledger.runs.keys()]).toEqual(['t|0|1', 't|0|2']);
      expect([...ledger.errors]).toEqual([
        ['t|0|1', 1],
        ['t|0|2', 1],
      ]);
      expect(ledger.responses.size).toBe(0);
    },
  );

  test.each([
    ['an object without a prototype', () => Object.create(null)],
    [
      'an Error whose message cannot be read',
      () => Object.defineProperty(new Error(), 'message', { get: () => assertNever('x') }),
    ],
  ])(
    'GIVEN code throwing %s WHEN the same event arrives twice THEN each record ran once and is on the error topic once',
    async (_label, thrown) => {
      // GIVEN code that throws a value whose text cannot be had
      const ledger = new Ledger();
      const dispatcher = logDispatcher(ledger, () => {
        throw thrown();
      });
      // WHEN the event arrives twice
      const answers = [
        await dispatcher.handle(kafkaEventAt('t', 0, [1, 2]), context()),
        await dispatcher.handle(kafkaEventAt('t', 0, [1, 2]), context()),
      ];
      // THEN the records took the error path once, as for any thrown error, and ran once
      expect(answers).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
      expect(ledger.twice()).toEqual([]);
      expect([...ledger.errors]).toEqual([
        ['t|0|1', 1],
        ['t|0|2', 1],
      ]);
    },
  );
});

function assertNever(text: string): never {
  throw new Error(text);
}

/** In process, keyed by the value's /id, on a DynamoDB of memory. */
function keyedConfig(schemas: boolean): DispatcherConfig {
  return {
    version: 2,
    target: {
      inProcess: true,
      invocationType: 'RequestResponse',
      payloadFormat: 'confluent',
      recordsPerInvocation: 10,
      concurrency: 1,
      maxAttempts: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
    },
    onError: 'fail',
    reportBatchItemFailures: true,
    timeMarginMs: 0,
    idempotency: { tableName: TABLE, mode: 'batched', ttlSeconds: 3600, maxStoredResultBytes: 1024, keyPointer: '/n' },
    ...(schemas ? { schemas: { key: 'bytes', value: 'mapping-json' } } : {}),
  };
}

describe('code that mutates the records it gets', () => {
  test.each([
    [
      'the schema-decoded value it gets (FieldAs.json)',
      true,
      FieldAs.json<{ n?: number }>(),
      (r: InProcessRecord<any>) => {
        r.value.n = 1000 + Number(r.offset);
      },
    ],
    [
      "the value's bytes (FieldAs.buffer)",
      false,
      FieldAs.buffer,
      (r: InProcessRecord<any>) => {
        (r.value as Buffer).write('{"n":9', 'utf8');
      },
    ],
    [
      "the record's bytes (record.value)",
      false,
      FieldAs.json(),
      (r: InProcessRecord<any>) => {
        r.record.value!.write('{"n":8', 'utf8');
      },
    ],
  ])(
    'GIVEN code changing %s WHEN the same event arrives twice THEN each record ran once',
    async (_label, schemas, value, mutate) => {
      // GIVEN records keyed by their value's /n, and code that changes what it is given
      const db = memoryTable();
      const ledger = new Ledger();
      const handler = inProcessRecordHandler(
        (r: InProcessRecord<any>) => {
          ledger.ran(r);
          mutate(r);
          return { ok: true };
        },
        { config: keyedConfig(schemas), clients: { dynamodb: db as any }, value: value as any, ...quiet },
      );
      // WHEN the event arrives twice
      const answers = [
        await handler(kafkaEventAt('t', 0, [1, 2]), context()),
        await handler(kafkaEventAt('t', 0, [1, 2]), context()),
      ];
      // THEN the second delivery found both records done under their keys: neither ran again
      expect(answers).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
      expect([...ledger.runs]).toEqual([
        ['t|0|1', 1],
        ['t|0|2', 1],
      ]);
    },
  );
});
