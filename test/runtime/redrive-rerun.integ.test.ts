/**
 * A redrive's event (REDRIVE_EVENT_FIELD) through the Dispatcher, with each idempotency store against DynamoDB Local
 * and the target under the Lambda emulator: records whose failure the dispatcher handled run again once the target is
 * fixed, records its target ran do not, and a second redrive runs nothing. The count is the Lambda front's record of
 * the target's invocations, outside the dispatcher.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import {
  Dispatcher,
  DynamoDbIdempotencyStore,
  DynamoDbRangeStore,
  EmfMetrics,
  JsonLogger,
  REDRIVE_EVENT_FIELD,
  TargetInvoker,
} from '../../runtime';
import { createIdempotencyTable, kafkaEvent, lambdaContext, RecordSpec } from './support';

jest.setTimeout(120_000);

type Mode = 'ranges' | 'batched keys' | 'strict keys';

describe('a redrive through the Dispatcher', () => {
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const fns: te.RunningLambda[] = [];
  let tableName: string;
  let broken: string;
  let fixed: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(dynamodb);
    const dir = path.join(__dirname, '..', 'fixtures', 'targets');
    broken = `rerun-broken-${randomUUID().slice(0, 8)}`;
    fixed = `rerun-fixed-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: broken, dir, handler: 'index.echo', env: { POISON: '1' }, concurrency: 2 }));
    fns.push(await te.startLambda({ name: fixed, dir, handler: 'index.echo', concurrency: 2 }));
  });
  afterAll(async () => {
    lambda.destroy();
    dynamodb.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  /** Each record of the topic the target was invoked with, "partition@offset", from the Lambda front's log. */
  const invoked = async (name: string, topic: string): Promise<string[]> =>
    (await te.listInvocations(name)).flatMap((i) =>
      JSON.parse(i.payload)
        .filter((e: { payload: { topic: string } }) => e.payload.topic === topic)
        .map((e: { payload: { partition: number; offset: number } }) => `${e.payload.partition}@${e.payload.offset}`),
    );

  /** A dispatcher in its own execution environment, failures logged (onError: log), four records an invocation. */
  function dispatcher(mode: Mode, functionName: string): Dispatcher {
    const store =
      mode === 'ranges'
        ? new DynamoDbRangeStore({ tableName, client: dynamodb, container: randomUUID() })
        : new DynamoDbIdempotencyStore({ tableName, client: dynamodb });
    return new Dispatcher({
      invoker: new TargetInvoker({ functionName, client: lambda, maxAttempts: 1 }),
      store,
      idempotencyMode: mode === 'strict keys' ? 'strict' : 'batched',
      onError: 'log',
      recordsPerInvocation: 4,
      reportBatchItemFailures: true,
      logger: new JsonLogger({ write: () => undefined }),
      metrics: new EmfMetrics({ write: () => undefined }),
    });
  }

  /** Offsets 0..19 of one partition; 5 and 13 are poison, so invocations 4..7 and 12..15 fail. */
  const specs = (topic: string): RecordSpec[] =>
    Array.from({ length: 20 }, (_, o) => ({
      topic,
      partition: 0,
      offset: o,
      value: { n: o, kind: o === 5 || o === 13 ? 'poison' : 'ok' },
    }));
  const redriveEvent = (s: RecordSpec[]) => ({ ...kafkaEvent(s), [REDRIVE_EVENT_FIELD]: { rerunFailed: true } });
  const failedOffsets = [4, 5, 6, 7, 12, 13, 14, 15];

  describe.each<Mode>(['ranges', 'batched keys', 'strict keys'])('with %s', (mode) => {
    test('the logged failures run again once, what the target ran does not, and a second redrive runs nothing', async () => {
      // GIVEN 20 records dispatched to the broken target: two invocations of four fail and are logged as done
      const topic = `rerun-${mode.replace(' ', '-')}-${randomUUID().slice(0, 8)}`;
      const all = specs(topic);
      expect(await dispatcher(mode, broken).handle(kafkaEvent(all), lambdaContext())).toEqual({ batchItemFailures: [] });
      // AND an ordinary redelivery to the fixed target runs nothing: the failures are done for idempotency
      expect(await dispatcher(mode, fixed).handle(kafkaEvent(all), lambdaContext())).toEqual({ batchItemFailures: [] });
      expect(await invoked(fixed, topic)).toEqual([]);

      // WHEN the failed records are redriven to the fixed target (as the error topic carries them)
      const failed = all.filter((s) => failedOffsets.includes(s.offset));
      expect(await dispatcher(mode, fixed).handle(redriveEvent(failed), lambdaContext())).toEqual({ batchItemFailures: [] });
      // THEN each ran once
      const ran = await invoked(fixed, topic);
      expect(ran.sort()).toEqual(failedOffsets.map((o) => `0@${o}`).sort());

      // WHEN the same redrive runs again, and the whole range is redriven as an on-failure record names it (the
      // command sends such records without the marker)
      expect(await dispatcher(mode, fixed).handle(redriveEvent(failed), lambdaContext())).toEqual({ batchItemFailures: [] });
      expect(await dispatcher(mode, fixed).handle(kafkaEvent(all), lambdaContext())).toEqual({ batchItemFailures: [] });
      // THEN nothing ran again
      expect((await invoked(fixed, topic)).length).toBe(failedOffsets.length);
    });

    test('a redrive of some failures leaves the others to a later redrive', async () => {
      // GIVEN records whose failures were logged
      const topic = `rerun-part-${mode.replace(' ', '-')}-${randomUUID().slice(0, 8)}`;
      const all = specs(topic);
      await dispatcher(mode, broken).handle(kafkaEvent(all), lambdaContext());
      const failed = all.filter((s) => failedOffsets.includes(s.offset));
      // WHEN a redrive sends the first and the last failure only (one event, the failures between them not in it)
      const ends = [failed[0], failed[failed.length - 1]];
      expect(await dispatcher(mode, fixed).handle(redriveEvent(ends), lambdaContext())).toEqual({ batchItemFailures: [] });
      // AND then every failure
      expect(await dispatcher(mode, fixed).handle(redriveEvent(failed), lambdaContext())).toEqual({ batchItemFailures: [] });
      // THEN each failure ran once: the first redrive did not take the ones between for done
      expect((await invoked(fixed, topic)).sort()).toEqual(failedOffsets.map((o) => `0@${o}`).sort());
    });
  });

  // Batched mode with keys holds no lease: two overlapping invocations may both run a record (docs/dispatcher.md).
  describe.each<Mode>(['ranges', 'strict keys'])('with %s', (mode) => {
    test('two redrives racing run each failed record once', async () => {
      // GIVEN records whose failures were logged
      const topic = `rerun-race-${mode.replace(' ', '-')}-${randomUUID().slice(0, 8)}`;
      const all = specs(topic);
      await dispatcher(mode, broken).handle(kafkaEvent(all), lambdaContext());
      // WHEN two dispatchers take the same redrive at once, and what either did not finish is redriven again
      const failed = all.filter((s) => failedOffsets.includes(s.offset));
      const outs = await Promise.all([0, 1].map(() => dispatcher(mode, fixed).handle(redriveEvent(failed), lambdaContext())));
      for (const out of outs)
        if ((out as { batchItemFailures: unknown[] }).batchItemFailures.length)
          expect(await dispatcher(mode, fixed).handle(redriveEvent(failed), lambdaContext())).toEqual({ batchItemFailures: [] });
      // THEN each failed record ran once at the target
      const ran = await invoked(fixed, topic);
      expect(ran.sort()).toEqual(failedOffsets.map((o) => `0@${o}`).sort());
    });
  });
});
