/**
 * Smoke tests: Lambda functions run under the RIE (one process per function) behind the testenv
 * Lambda front, invoked with @aws-sdk/client-lambda exactly like the real service.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient, ResourceNotFoundException, TooManyRequestsException } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';

jest.setTimeout(60_000);

const dec = (p?: Uint8Array) => (p ? Buffer.from(p).toString('utf8') : '');
const enc = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('Lambda stand-in (RIE + front)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckl-smoke-fn-'));
  // maxAttempts 1: the SDK would otherwise retry injected throttles itself.
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const fns: te.RunningLambda[] = [];

  beforeAll(async () => {
    writeFileSync(
      join(dir, 'index.js'),
      `
      exports.handler = async (event, context) => {
        console.log('smoke-log-line', JSON.stringify(event));
        if (event.fail) throw new TypeError('boom: ' + event.fail);
        if (event.exit) process.exit(event.exit);
        if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
        return {
          echo: event,
          functionName: context.functionName,
          arn: context.invokedFunctionArn,
          requestId: context.awsRequestId,
          remainingMs: context.getRemainingTimeInMillis(),
          custom: process.env.CUSTOM_VAR,
        };
      };
      exports.callbackHandler = (event, context, callback) => { callback(null, { viaCallback: event.x }); };
    `,
    );
    fns.push(await te.startLambda({ name: 'smoke-echo', dir, env: { CUSTOM_VAR: 'custom-value' }, timeoutSeconds: 2 }));
    fns.push(await te.startLambda({ name: 'smoke-callback', dir, handler: 'index.callbackHandler' }));
    fns.push(await te.startLambda({ name: 'smoke-missing', dir, handler: 'missing.handler' }));
  });

  afterAll(async () => {
    lambda.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('GIVEN a bundled handler WHEN invoked by name THEN its answer, context and env come back', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ a: 1 }) }));
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBeUndefined();
    const body = JSON.parse(dec(r.Payload));
    expect(body).toMatchObject({ echo: { a: 1 }, functionName: 'smoke-echo', custom: 'custom-value' });
    expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.remainingMs).toBeGreaterThan(0);
    expect(body.remainingMs).toBeLessThanOrEqual(2000);
  });

  test("GIVEN a callback-style handler WHEN invoked by full ARN with a qualifier THEN it fails as on Lambda's Node.js 24 runtime", async () => {
    const r = await lambda.send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:smoke-callback:live',
        Payload: enc({ x: 42 }),
      }),
    );
    expect(r.FunctionError).toBe('Unhandled');
    expect(JSON.parse(dec(r.Payload))).toMatchObject({ errorType: 'Runtime.CallbackHandlerDeprecated' });
  });

  test('GIVEN a handler that throws WHEN invoked THEN FunctionError is Unhandled and the payload carries the error', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ fail: 'x' }), LogType: 'Tail' }));
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBe('Unhandled');
    expect(JSON.parse(dec(r.Payload))).toMatchObject({ errorType: 'TypeError', errorMessage: 'boom: x' });
    expect(Buffer.from(r.LogResult!, 'base64').toString('utf8')).toContain('smoke-log-line');
  });

  test('GIVEN a 2 s timeout WHEN the handler runs longer THEN the invoke fails with a timeout and the next invoke works', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ sleepMs: 5000 }) }));
    expect(r.FunctionError).toBe('Unhandled');
    expect(dec(r.Payload)).toMatch(/Task timed out after 2\.00 seconds/);
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ again: true }) }));
    expect(ok.FunctionError).toBeUndefined();
  });

  test('GIVEN an unknown function WHEN invoked THEN ResourceNotFoundException is raised', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function', Payload: enc({}) }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  test('GIVEN DryRun and Event invocation types WHEN invoked THEN 204 and 202 are returned and the Event runs in background', async () => {
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
    const marker = `evt-${Date.now()}`;
    const ev = await lambda.send(
      new InvokeCommand({ FunctionName: 'smoke-echo', InvocationType: 'Event', Payload: enc({ marker }) }),
    );
    expect(ev.StatusCode).toBe(202);
    let done: te.InvocationRecord | undefined;
    for (let i = 0; i < 50 && !done; i++) {
      done = (await te.listInvocations('smoke-echo')).find((x) => x.payload.includes(marker) && x.doneAt);
      if (!done) await new Promise((r) => setTimeout(r, 100));
    }
    expect(done?.type).toBe('Event');
    expect(JSON.parse(done!.response!).echo).toEqual({ marker });
  });

  test('GIVEN the front told to throttle twice WHEN invoked three times THEN two TooManyRequestsException then success', async () => {
    await te.throttleLambda('smoke-echo', 2);
    const call = () => lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({}) }));
    await expect(call()).rejects.toBeInstanceOf(TooManyRequestsException);
    await expect(call()).rejects.toBeInstanceOf(TooManyRequestsException);
    await expect(call()).resolves.toMatchObject({ StatusCode: 200 });
  });

  test('GIVEN a handler module that does not exist WHEN invoked THEN FunctionError reports Runtime.ImportModuleError', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-missing', Payload: enc({}) }));
    expect(r.FunctionError).toBe('Unhandled');
    expect(JSON.parse(dec(r.Payload)).errorType).toBe('Runtime.ImportModuleError');
  });

  test('GIVEN a handler that exits the process WHEN invoked THEN Runtime.ExitError is reported and the function recovers', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ exit: 3 }) }));
    expect(r.FunctionError).toBe('Unhandled');
    expect(JSON.parse(dec(r.Payload))).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringContaining('exit status 3'),
    });
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ after: 'exit' }) }));
    expect(JSON.parse(dec(ok.Payload)).echo).toEqual({ after: 'exit' });
  });

  test('GIVEN a call at the RIE WHEN the function is being stopped and the RIE still answers THEN the call ends as killed in flight', async () => {
    // GIVEN a call that takes a second, forwarded to the RIE
    const front = te.awsClientConfig('lambda').endpoint;
    const before = (await te.lambdaStats('smoke-echo')).killedInFlight;
    const call = lambda.send(new InvokeCommand({ FunctionName: 'smoke-echo', Payload: enc({ sleepMs: 1000 }) }));
    const forwarded = async () =>
      (await te.listInvocations('smoke-echo')).some((i) => i.doneAt === undefined && JSON.parse(i.payload).sleepMs === 1000);
    while (!(await forwarded())) await new Promise((r) => setImmediate(r));
    // WHEN the front is told the function's processes are being stopped, and the handler still answers a plain 200
    await fetch(`${front}/_testenv/stopping`, { method: 'POST', body: JSON.stringify({ name: 'smoke-echo' }) });
    // THEN the caller gets a service error, never the answer as the function's success, and the front counts the kill
    await expect(call).rejects.toMatchObject({ name: 'ServiceException', $metadata: { httpStatusCode: 502 } });
    expect((await te.lambdaStats('smoke-echo')).killedInFlight).toBe(before + 1);
  });
});
