/**
 * Invokes the redrive's function through the Lambda Invoke API with the log tail, so that records the dispatcher's
 * idempotency skipped (its RecordsSkippedDuplicate metric) and records that took its error path again
 * (RecordsFailed, RecordsDropped) are told apart from records its target ran.
 */
import { randomUUID } from 'node:crypto';
import { localAwsSettings } from '../aws';

export interface RedriveInvokeResult {
  readonly ok: boolean;
  readonly throttled: boolean;
  readonly statusCode?: number;
  readonly functionError?: string;
  readonly response?: unknown;
  readonly requestId: string;
  /** The dispatcher's RecordsSkippedDuplicate for this invocation (its embedded-metric line); 0 for any other function. */
  readonly skippedDuplicates: number;
  /** The dispatcher's RecordsFailed and RecordsDropped: records it handled as failures (error topic, log, drop). */
  readonly errorPath: number;
}

export interface RedriveInvoker {
  invoke(event: unknown): Promise<RedriveInvokeResult>;
  close(): void;
}

/** The dispatcher's counts in the last embedded-metric line of a log tail; 0 each when there is none. */
export function dispatcherCounts(logTail: string): { skippedDuplicates: number; errorPath: number } {
  let counts = { skippedDuplicates: 0, errorPath: 0 };
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  for (const line of logTail.split('\n')) {
    const at = line.indexOf('{"_aws"');
    if (at < 0) continue;
    try {
      const m = JSON.parse(line.slice(at));
      counts = { skippedDuplicates: num(m.RecordsSkippedDuplicate), errorPath: num(m.RecordsFailed) + num(m.RecordsDropped) };
    } catch {
      /* a line cut by the tail's 4 KB bound */
    }
  }
  return counts;
}

export function redriveInvoker(o: { functionName: string; lambdaEndpoint?: string; region?: string }): RedriveInvoker {
  const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
  const client = new LambdaClient({ maxAttempts: 1, ...localAwsSettings(o.lambdaEndpoint, o.region) });
  return {
    async invoke(event) {
      try {
        const out = await client.send(
          new InvokeCommand({ FunctionName: o.functionName, LogType: 'Tail', Payload: Buffer.from(JSON.stringify(event)) }),
        );
        const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
        let response: unknown;
        try {
          response = text ? JSON.parse(text) : undefined;
        } catch {
          response = undefined;
        }
        return {
          ok: !out.FunctionError,
          throttled: false,
          statusCode: out.StatusCode,
          functionError: out.FunctionError,
          response,
          requestId: out.$metadata.requestId ?? randomUUID(),
          ...dispatcherCounts(out.LogResult ? Buffer.from(out.LogResult, 'base64').toString('utf8') : ''),
        };
      } catch (e) {
        const err = e as Error & { $metadata?: { httpStatusCode?: number; requestId?: string } };
        return {
          ok: false,
          throttled: err.name === 'TooManyRequestsException' || err.$metadata?.httpStatusCode === 429,
          statusCode: err.$metadata?.httpStatusCode,
          functionError: err.name,
          requestId: err.$metadata?.requestId ?? randomUUID(),
          skippedDuplicates: 0,
          errorPath: 0,
        };
      }
    },
    close() {
      client.destroy();
    },
  };
}
