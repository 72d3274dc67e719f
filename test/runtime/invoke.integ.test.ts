import * as path from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import { decodeEvent, planBatches, TargetInvoker, TargetInvocationError, EmfMetrics, InvocationBatch } from '../../runtime';
import { kafkaEvent, partitionSpecs } from './support';

jest.setTimeout(90_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const envelope = { eventSource: 'SelfManagedKafka' };

function batchOf(
  n: number,
  format: 'confluent' | 'nordstrom-plain' | 'nordstrom-json' | 'raw' = 'confluent',
  from = 10,
): InvocationBatch {
  const records = decodeEvent(kafkaEvent(partitionSpecs('inv', 2, from, n).map((s) => ({ ...s, headers: { h: 'v' } }))));
  const [batch] = planBatches(records, format, 100, 6 * 1024 * 1024, envelope);
  return batch as InvocationBatch;
}

async function failureOf(p: Promise<unknown>): Promise<TargetInvocationError> {
  try {
    await p;
  } catch (e) {
    return e as TargetInvocationError;
  }
  throw new Error('expected a failure');
}

describe('TargetInvoker against the Lambda emulator', () => {
  const client = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const fns: te.RunningLambda[] = [];
  beforeAll(async () => {
    fns.push(
      ...(await Promise.all([
        te.startLambda({ name: 'inv-echo', dir: TARGETS, handler: 'index.echo' }),
        te.startLambda({ name: 'inv-fail', dir: TARGETS, handler: 'index.fail' }),
        te.startLambda({ name: 'inv-slow', dir: TARGETS, handler: 'index.slow', env: { SLOW_MS: '4000' } }),
        te.startLambda({ name: 'inv-malformed', dir: TARGETS, handler: 'index.malformed' }),
      ])),
    );
  });
  afterAll(async () => {
    client.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });
  const deadline = () => Date.now() + 20_000;

  test('sync, Confluent format: each record gets the payload of its response entry', async () => {
    const invoker = new TargetInvoker({ functionName: 'inv-echo', client });
    const results = await invoker.invoke(batchOf(3), deadline());
    expect(results).toEqual(
      [10, 11, 12].map((o) => ({
        timestamp: 1_700_000_000_000 + o,
        topic: 'inv',
        partition: 2,
        offset: o,
        result: { echo: { n: o }, key: `k${o}` },
      })),
    );
    const [last] = (await te.listInvocations('inv-echo')).slice(-1);
    expect(JSON.parse(last.payload)[0]).toEqual({
      payload: { timestamp: 1_700_000_000_010, topic: 'inv', partition: 2, offset: 10, key: 'k10', value: { n: 10 } },
    });
  });

  test.each(['nordstrom-plain', 'nordstrom-json', 'raw'] as const)(
    'sync, %s format: the target receives that format',
    async (format) => {
      const invoker = new TargetInvoker({ functionName: 'inv-echo', client, payloadFormat: format });
      const results = await invoker.invoke(batchOf(2, format), deadline());
      const [last] = (await te.listInvocations('inv-echo')).slice(-1);
      const sent = JSON.parse(last.payload);
      if (format === 'raw') {
        expect(sent).toMatchObject({
          eventSource: 'SelfManagedKafka',
          records: { 'inv-2': [{ offset: 10, value: Buffer.from('{"n":10}').toString('base64') }, { offset: 11 }] },
        });
        expect(results).toEqual([sent, sent]);
      } else {
        expect(sent[0]).toMatchObject({
          key: 'k10',
          value: format === 'nordstrom-json' ? { n: 10 } : '{"n":10}',
          topic: 'inv',
          partition: 2,
          offset: 10,
          timestampTypeName: 'CreateTime',
          headers: [{ key: 'h', value: 'v' }],
          keySchemaName: null,
        });
        expect(results).toEqual(sent); // one entry per record
      }
    },
  );

  test("fails with TargetInvocationError carrying the Confluent connector's error fields for a FunctionError, never success; the log tail only when asked for", async () => {
    expect(
      (await failureOf(new TargetInvoker({ functionName: 'inv-fail', client }).invoke(batchOf(2), deadline()))).details.logResult,
    ).toBeUndefined();
    const invoker = new TargetInvoker({ functionName: 'inv-fail', client, logTail: true });
    const e = await failureOf(invoker.invoke(batchOf(2), deadline()));
    expect(e).toBeInstanceOf(TargetInvocationError);
    expect(e).toMatchObject({ name: 'TargetInvocationError', topic: 'inv', partition: 2, startOffset: 10, endOffset: 12 });
    expect(e.details).toMatchObject({ statusCode: 200, functionError: 'Unhandled' });
    expect(JSON.parse(e.details.payload!)).toMatchObject({ errorMessage: 'target failed on purpose' });
    expect(e.details.logResult).toContain('target failed on purpose');
  });

  test('fails with MalformedResponse when the answer has the wrong length or coordinates', async () => {
    const invoker = new TargetInvoker({ functionName: 'inv-malformed', client });
    const e = await failureOf(invoker.invoke(batchOf(3), deadline()));
    expect(e.details.functionError).toBe('MalformedResponse');
    expect(e.message).toMatch(/expected 3 entries, got 2/);
    const one = await failureOf(invoker.invoke(batchOf(1), deadline()));
    expect(one.message).toMatch(/expected 1 entries, got 0/);
  });

  test('retries throttling (429) with backoff and succeeds, counting the retries', async () => {
    const metrics = new EmfMetrics({ write: () => undefined });
    const invoker = new TargetInvoker({ functionName: 'inv-echo', client, baseDelayMs: 20, metrics });
    await te.throttleLambda('inv-echo', 2);
    const results = await invoker.invoke(batchOf(1), deadline());
    expect(results).toHaveLength(1);
    expect(metrics.get('InvokeRetries')).toBe(2);
  });

  test('fails when throttling outlasts the attempts', async () => {
    const invoker = new TargetInvoker({ functionName: 'inv-echo', client, baseDelayMs: 5, maxAttempts: 3 });
    await te.throttleLambda('inv-echo', 5);
    const e = await failureOf(invoker.invoke(batchOf(1), deadline()));
    expect(e.message).toMatch(/failed after 3 attempt\(s\): TooManyRequestsException/);
    expect(e.details).toMatchObject({ statusCode: 429, functionError: 'TooManyRequestsException' });
    await te.throttleLambda('inv-echo', 0);
  });

  test('fails cleanly when a slow target outlasts the deadline', async () => {
    const invoker = new TargetInvoker({ functionName: 'inv-slow', client });
    const started = Date.now();
    const e = await failureOf(invoker.invoke(batchOf(1), Date.now() + 1_000));
    expect(e.details.functionError).toBe('Timeout');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  test('fails without retrying for an unknown function (ResourceNotFoundException)', async () => {
    const metrics = new EmfMetrics({ write: () => undefined });
    const invoker = new TargetInvoker({ functionName: 'no-such-function', client, metrics });
    const e = await failureOf(invoker.invoke(batchOf(1), deadline()));
    expect(e.details).toMatchObject({ statusCode: 404, functionError: 'ResourceNotFoundException' });
    expect(metrics.get('InvokeRetries')).toBe(0);
  });

  test('async (Event): accepted with 202, no results', async () => {
    const invoker = new TargetInvoker({ functionName: 'inv-echo', client, invocationType: 'Event' });
    expect(await invoker.invoke(batchOf(2), deadline())).toEqual([undefined, undefined]);
  });
});
