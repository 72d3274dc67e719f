/**
 * How a local event source mapping calls its function: through the Lambda Invoke API (any endpoint, e.g. the
 * Lambda emulator), or a handler module called in-process. Throttling is told apart: the mapping retries it
 * without counting it as a failure, as Lambda does.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { localAwsSettings } from './aws';
import type { InvokeOutcome } from './kafka/event';
import { LocalEsmConfigError } from './errors';

export interface InvokeResult extends InvokeOutcome {
  readonly ok: boolean;
  readonly throttled: boolean;
  readonly response?: unknown;
}

export interface Invoker {
  readonly functionArn: string;
  invoke(event: unknown): Promise<InvokeResult>;
  close(): void;
}

export interface InvokerOptions {
  /** Function name or ARN, invoked through the Lambda API at `lambdaEndpoint`. */
  readonly functionName?: string;
  readonly lambdaEndpoint?: string;
  /** "path/to/module.export": a handler called in-process instead of the Lambda API. */
  readonly handler?: string;
  readonly region?: string;
}

export function createInvoker(o: InvokerOptions): Invoker {
  const region = o.region ?? 'us-east-1';
  if (o.handler) {
    const dot = o.handler.lastIndexOf('.');
    const file = path.resolve(o.handler.slice(0, dot));
    const exportName = o.handler.slice(dot + 1);
    const fn = require(file)[exportName];
    if (typeof fn !== 'function')
      throw new LocalEsmConfigError(`handler "${o.handler}": ${file} exports no function "${exportName}"`);
    return {
      functionArn: `arn:aws:lambda:${region}:000000000000:function:local`,
      async invoke(event) {
        const requestId = randomUUID();
        const context = { awsRequestId: requestId, functionName: 'local', getRemainingTimeInMillis: () => 900_000 };
        try {
          return {
            ok: true,
            throttled: false,
            requestId,
            statusCode: 200,
            response: await fn(JSON.parse(JSON.stringify(event)), context),
          };
        } catch (e) {
          return {
            ok: false,
            throttled: false,
            requestId,
            statusCode: 200,
            functionError: 'Unhandled',
            response: { errorType: (e as Error).name, errorMessage: (e as Error).message },
          };
        }
      },
      close() {
        /* nothing held */
      },
    };
  }
  const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
  const client = new LambdaClient({ maxAttempts: 1, ...localAwsSettings(o.lambdaEndpoint, o.region) });
  const name = o.functionName!;
  const functionArn = name.startsWith('arn:') ? name : `arn:aws:lambda:${region}:000000000000:function:${name}`;
  return {
    functionArn,
    async invoke(event) {
      try {
        const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
        const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        let response: unknown;
        try {
          response = text ? JSON.parse(text) : undefined;
        } catch {
          response = text;
        }
        return {
          ok: !out.FunctionError,
          throttled: false,
          requestId: out.$metadata.requestId ?? randomUUID(),
          statusCode: out.StatusCode,
          executedVersion: out.ExecutedVersion,
          functionError: out.FunctionError,
          response,
        };
      } catch (e) {
        const err = e as Error & { $metadata?: { httpStatusCode?: number; requestId?: string } };
        const throttled = err.name === 'TooManyRequestsException' || err.$metadata?.httpStatusCode === 429;
        return {
          ok: false,
          throttled,
          requestId: err.$metadata?.requestId ?? randomUUID(),
          statusCode: err.$metadata?.httpStatusCode,
          functionError: err.name,
        };
      }
    },
    close() {
      client.destroy();
    },
  };
}
