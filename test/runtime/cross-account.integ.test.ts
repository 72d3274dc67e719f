/**
 * A target invoked with an assumed role (config target.assumeRole): moto's STS hands out the credentials, the Lambda
 * front records the access key each call was signed with, and moto's GetCallerIdentity says whose key it is.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import {
  assumedRoleCredentials,
  decodeEvent,
  InvocationBatch,
  Logger,
  planBatches,
  TargetInvocationError,
  TargetInvoker,
} from '../../runtime';
import { closedPort, invokeFunction, kafkaEvent, partitionSpecs } from './support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');
const ROLE_ARN = 'arn:aws:iam::111111111111:role/kafka-target-invoker';

/** A logger that keeps what it is told. */
function capturingLogger(): Logger & { lines: { message: string; fields?: Record<string, unknown> }[] } {
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const keep = (message: string, fields?: Record<string, unknown>) => {
    lines.push({ message, fields });
  };
  return { lines, debug: keep, info: keep, warn: keep, error: keep, append: () => undefined };
}

describe('invoking the target with an assumed role', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const sts = new STSClient(te.awsClientConfig('sts'));
  const fns: te.RunningLambda[] = [];

  afterAll(async () => {
    lambda.destroy();
    sts.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function start(
    name: string,
    dir: string,
    handler: string,
    extraEnv: Record<string, string> = {},
  ): Promise<te.RunningLambda> {
    const fn = await te.startLambda({ name, dir, handler, env: extraEnv });
    fns.push(fn);
    return fn;
  }

  /** Whose access key it is, as moto's STS knows it (it identifies the caller by the key alone). */
  async function callerOf(accessKeyId: string): Promise<string | undefined> {
    const client = new STSClient({ ...te.awsClientConfig('sts'), credentials: { accessKeyId, secretAccessKey: 'unused' } });
    try {
      return (await client.send(new GetCallerIdentityCommand({}))).Arn;
    } finally {
      client.destroy();
    }
  }

  const batchOf = (topic: string, from: number, n: number): InvocationBatch =>
    planBatches(decodeEvent(kafkaEvent(partitionSpecs(topic, 0, from, n))), 'confluent', 100, 6 * 1024 * 1024, {
      eventSource: 'SelfManagedKafka',
    })[0] as InvocationBatch;

  test('GIVEN config target.assumeRole WHEN the dispatcher bundle runs two events THEN every call to the target is signed by one session of that role', async () => {
    const target = await start(`t-echo-${randomUUID().slice(0, 8)}`, TARGETS, 'index.echo');
    const config: DispatcherConfig = {
      version: 2,
      target: {
        functionName: target.arn,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 100,
        concurrency: 4,
        maxAttempts: 3,
        baseDelayMs: 20,
        maxDelayMs: 200,
        assumeRole: { roleArn: ROLE_ARN, externalId: 'orders-sink-7' },
      },
      onError: 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 1_000,
    };
    const dispatcher = await start(`disp-role-${randomUUID().slice(0, 8)}`, DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config),
    });
    const topic = `role-${randomUUID()}`;

    // WHEN
    const first = await invokeFunction(lambda, dispatcher.name, kafkaEvent(partitionSpecs(topic, 0, 0, 3)));
    const second = await invokeFunction(lambda, dispatcher.name, kafkaEvent(partitionSpecs(topic, 0, 3, 3)));

    // THEN
    expect([first, second]).toEqual([
      { functionError: undefined, body: { batchItemFailures: [] } },
      { functionError: undefined, body: { batchItemFailures: [] } },
    ]);
    const calls = await te.listInvocations(target.name);
    expect(calls).toHaveLength(2);
    const keys = new Set(calls.map((c) => c.accessKeyId));
    expect(keys.size).toBe(1); // obtained once, kept for the second event
    const [key] = [...keys];
    expect(key).toBeDefined();
    expect(key).not.toBe(env.credentials.accessKeyId);
    expect(await callerOf(key!)).toBe(`arn:aws:sts::111111111111:assumed-role/kafka-target-invoker/${dispatcher.name}`);
  });

  test('GIVEN credentials for a short session WHEN they come within 5 minutes of expiring THEN the next invocation is signed by a new session, before the old one expires', async () => {
    const target = await start(`t-echo-${randomUUID().slice(0, 8)}`, TARGETS, 'index.echo');
    const logger = capturingLogger();
    // 310 s: the SDK keeps credentials until 5 minutes before they expire, so these are kept for about 10 s.
    const sent: Record<string, unknown>[] = [];
    const client = new STSClient(te.awsClientConfig('sts'));
    client.middlewareStack.add(
      (next) => async (args) => {
        sent.push(args.input as Record<string, unknown>);
        return next(args);
      },
      { step: 'initialize' },
    );
    const credentials = assumedRoleCredentials({
      roleArn: ROLE_ARN,
      externalId: 'orders-sink-7',
      durationSeconds: 310,
      sessionName: 'refresh-test',
      client,
      logger,
    });
    const invoker = new TargetInvoker({
      functionName: target.name,
      client: new LambdaClient({ ...te.awsClientConfig('lambda'), maxAttempts: 1, credentials }),
    });
    const topic = `role-${randomUUID()}`;
    const deadline = () => Date.now() + 30_000;

    // WHEN
    await invoker.invoke(batchOf(topic, 0, 1), deadline());
    await invoker.invoke(batchOf(topic, 1, 1), deadline());
    const firstExpiry = Date.parse(logger.lines[0].fields!.expiration as string);
    let offset = 2;
    const until = Date.now() + 60_000;
    while (new Set((await te.listInvocations(target.name)).map((c) => c.accessKeyId)).size < 2 && Date.now() < until) {
      await invoker.invoke(batchOf(topic, offset++, 1), deadline());
      await new Promise((r) => setTimeout(r, 250));
    }
    const refreshedAt = Date.now();

    // THEN
    const calls = await te.listInvocations(target.name);
    const keys = calls.map((c) => c.accessKeyId);
    expect(keys[0]).toBe(keys[1]); // cached
    expect(new Set(keys).size).toBe(2); // refreshed
    expect(logger.lines.filter((l) => l.message === 'assumed the target role')).toHaveLength(2);
    expect(sent).toEqual(
      [0, 1].map(() => ({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'refresh-test',
        ExternalId: 'orders-sink-7',
        DurationSeconds: 310,
      })),
    );
    expect(refreshedAt).toBeGreaterThanOrEqual(firstExpiry - 300_000); // not before the SDK's window
    expect(refreshedAt).toBeLessThan(firstExpiry); // and before the old session expired
    expect(await callerOf(keys[keys.length - 1]!)).toBe(
      'arn:aws:sts::111111111111:assumed-role/kafka-target-invoker/refresh-test',
    );
    client.destroy();
  });

  test('GIVEN STS cannot be reached WHEN the target is invoked THEN the batch fails as not run (outcome failed, the role named) and the target is never called', async () => {
    const target = await start(`t-echo-${randomUUID().slice(0, 8)}`, TARGETS, 'index.echo');
    const unreachable = new STSClient({
      ...te.awsClientConfig('sts'),
      endpoint: `http://127.0.0.1:${await closedPort()}`,
      maxAttempts: 1,
    });
    const credentials = assumedRoleCredentials({ roleArn: ROLE_ARN, client: unreachable });
    const invoker = new TargetInvoker({
      functionName: target.name,
      maxAttempts: 3,
      baseDelayMs: 10,
      retryUncertain: false,
      client: new LambdaClient({ ...te.awsClientConfig('lambda'), maxAttempts: 1, credentials }),
    });

    // WHEN
    const error = await invoker.invoke(batchOf(`role-${randomUUID()}`, 0, 2), Date.now() + 30_000).catch((e) => e);
    unreachable.destroy();

    // THEN
    expect(error).toBeInstanceOf(TargetInvocationError);
    expect((error as TargetInvocationError).outcome).toBe('failed'); // the request never reached Lambda: safe to retry even in strict mode
    expect((error as Error).message).toContain(`after 3 attempt(s): TargetRoleError: assuming ${ROLE_ARN} failed`);
    expect(await te.listInvocations(target.name)).toHaveLength(0);
  });
});
