import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { DEFAULTS } from '../../contract/dispatcher-config';
import { TargetInvocationError, TargetRoleError } from '../errors';
import type { Logger } from '../logger';
import type { EmfMetrics } from '../metrics';
import type { InvocationBatch, PayloadFormat } from './payload';
import { backoffDelay, sleep } from '../retry';
import { lambdaSdk } from '../sdk';
import { nextPosition } from './source';

export type InvocationType = 'RequestResponse' | 'Event';

export interface TargetInvokerOptions {
  /** Function name, ARN, or name/ARN with an alias or version qualifier. */
  readonly functionName: string;
  /** @default 'RequestResponse' */
  readonly invocationType?: InvocationType;
  /** @default 'confluent' */
  readonly payloadFormat?: PayloadFormat;
  /** Attempts per invocation, including the first. @default 5 */
  readonly maxAttempts?: number;
  /** @default 100 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  /**
   * Ask Lambda for the last 4 KB of the target's log with each synchronous invocation, for the error records of
   * failed invocations. The target's log may hold record data, so it is off unless asked for. @default false
   */
  readonly logTail?: boolean;
  /**
   * Retry an attempt that got no answer (a timeout, a dropped connection), although the target may still be
   * running it. Strict idempotency turns this off: its records must never run twice at once. @default true
   */
  readonly retryUncertain?: boolean;
  /** @default a LambdaClient without SDK retries (this class retries within the remaining time) */
  readonly client?: LambdaClient;
  /**
   * Credentials for the default client, e.g. `assumedRoleCredentials(...)` for a target in another account.
   * @default - the function's own
   */
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly logger?: Logger;
  readonly metrics?: EmfMetrics;
}

/** Per record of the batch: the target's result (sync; the response entry's payload), or undefined (async). */
export type BatchResults = readonly unknown[];

const RETRYABLE_ERROR_NAMES = new Set([
  'TooManyRequestsException',
  'ServiceException',
  'EC2ThrottledException',
  'ENILimitReachedException',
  'ResourceNotReadyException',
  'TimeoutError',
  'RequestTimeout',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNREFUSED',
]);

function isRetryable(e: unknown): boolean {
  const err = e as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = err.$metadata?.httpStatusCode;
  return (
    (status !== undefined && (status === 429 || status >= 500)) ||
    RETRYABLE_ERROR_NAMES.has(err.name ?? '') ||
    RETRYABLE_ERROR_NAMES.has(err.code ?? '') ||
    err.$retryable !== undefined
  );
}

/** A response's partition or offset against the record's: numbers as numbers (also "0" for 0), Kinesis shard ids and sequence numbers exactly. */
function samePosition(answered: unknown, expected: number | string): boolean {
  return typeof expected === 'number' ? Number(answered) === expected : answered === expected;
}

function truncate(s: string, max = 64 * 1024): string {
  return s.length > max ? `${s.slice(0, max)}...(${s.length} chars)` : s;
}

/**
 * Invokes the user's target function with a batch: retries throttling (429), 5xx and network
 * timeouts with exponential backoff and full jitter while the deadline allows, treats a
 * FunctionError as a failure, and checks that a synchronous response matches the batch.
 */
/** Throws the batch's TargetInvocationError. */
type Fail = (
  message: string,
  statusCode: number,
  functionError: string,
  out?: Partial<InvokeCommandOutput>,
  payload?: string,
) => never;

export class TargetInvoker {
  public readonly functionName: string;
  public readonly invocationType: InvocationType;
  public readonly payloadFormat: PayloadFormat;
  private clientInstance?: LambdaClient;
  private readonly credentials?: AwsCredentialIdentityProvider;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logTail: boolean;
  private readonly retryUncertain: boolean;
  private readonly logger?: Logger;
  private readonly metrics?: EmfMetrics;

  constructor(options: TargetInvokerOptions) {
    this.functionName = options.functionName;
    this.invocationType = options.invocationType ?? 'RequestResponse';
    this.payloadFormat = options.payloadFormat ?? 'confluent';
    this.clientInstance = options.client;
    this.credentials = options.credentials;
    this.maxAttempts = options.maxAttempts ?? DEFAULTS.maxAttempts;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULTS.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULTS.maxDelayMs;
    this.logTail = options.logTail ?? false;
    this.retryUncertain = options.retryUncertain ?? true;
    this.logger = options.logger;
    this.metrics = options.metrics;
  }

  private get client(): LambdaClient {
    return (this.clientInstance ??= new (lambdaSdk().LambdaClient)({ maxAttempts: 1, credentials: this.credentials }));
  }

  /**
   * Invokes the target; throws TargetInvocationError when the batch failed. deadline: epoch ms. The error's outcome
   * is unknown when an attempt was cut off without an answer (a timeout, a dropped connection): the target may
   * have run the batch.
   */
  async invoke(batch: InvocationBatch, deadline: number): Promise<BatchResults> {
    const attempts = { uncertain: false };
    const fail = this.failure(batch, attempts);
    const out = await this.send(batch, deadline, attempts, fail);
    return this.answer(batch, out, fail);
  }

  /** Throws the batch's TargetInvocationError; its outcome is unknown once an attempt went unanswered. */
  private failure(batch: InvocationBatch, attempts: { uncertain: boolean }): Fail {
    return (message, statusCode, functionError, out, payload) => {
      throw new TargetInvocationError(
        message,
        batch.topic,
        batch.partition,
        batch.records[0].offset,
        nextPosition(batch.records[batch.records.length - 1].offset),
        {
          statusCode,
          functionError,
          logResult: out?.LogResult === undefined ? undefined : Buffer.from(out.LogResult, 'base64').toString('utf8'),
          payload,
          executedVersion: out?.ExecutedVersion,
        },
        attempts.uncertain ? 'unknown' : 'failed',
      );
    };
  }

  /** Sends the batch until Lambda answers, retrying what may be retried within maxAttempts and the deadline. */
  private async send(
    batch: InvocationBatch,
    deadline: number,
    attempts: { uncertain: boolean },
    fail: Fail,
  ): Promise<InvokeCommandOutput> {
    const payload = Buffer.from(batch.payload);
    for (let attempt = 0; ; attempt++) {
      const timeLeft = deadline - Date.now();
      if (timeLeft <= 0) fail('no time left to invoke the target', 0, 'Timeout');
      try {
        this.metrics?.add('Invocations');
        return await this.client.send(
          new (lambdaSdk().InvokeCommand)({
            FunctionName: this.functionName,
            InvocationType: this.invocationType,
            LogType: this.logTail && this.invocationType === 'RequestResponse' ? 'Tail' : undefined,
            Payload: payload,
          }),
          { abortSignal: AbortSignal.timeout(timeLeft) },
        );
      } catch (e) {
        await this.retryOrFail(e, { batch, attempt, timeLeft, deadline }, attempts, fail);
      }
    }
  }

  /** After a failed attempt: fails the batch, or waits the backoff delay before the next attempt. */
  private async retryOrFail(
    e: unknown,
    at: { batch: InvocationBatch; attempt: number; timeLeft: number; deadline: number },
    attempts: { uncertain: boolean },
    fail: Fail,
  ): Promise<void> {
    const { batch, attempt, timeLeft, deadline } = at;
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    const statusCode = err.$metadata?.httpStatusCode ?? 0;
    // No answer from Lambda: the request may have reached the target, which may still be running it. A request
    // refused, or one that failed for want of the target role's credentials, never reached it.
    const refused =
      err.name === 'ECONNREFUSED' || (err as { code?: string }).code === 'ECONNREFUSED' || e instanceof TargetRoleError;
    if (statusCode === 0 && !refused) attempts.uncertain = true;
    if (err.name === 'AbortError' || (err.name === 'TimeoutError' && Date.now() >= deadline)) {
      fail(`the target did not answer before the dispatcher's deadline (${timeLeft} ms)`, statusCode, 'Timeout');
    }
    const errorPayload = JSON.stringify({ errorType: err.name, errorMessage: err.message });
    if (!isRetryable(e) || (attempts.uncertain && !this.retryUncertain)) {
      fail(`invoking ${this.functionName} failed: ${err.name}: ${err.message}`, statusCode, err.name, undefined, errorPayload);
    }
    const delay = backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs);
    if (attempt + 1 >= this.maxAttempts || Date.now() + delay >= deadline) {
      fail(
        `invoking ${this.functionName} failed after ${attempt + 1} attempt(s): ${err.name}: ${err.message}`,
        statusCode,
        err.name,
        undefined,
        errorPayload,
      );
    }
    this.metrics?.add('InvokeRetries');
    this.logger?.warn('retrying target invocation', {
      functionName: this.functionName,
      attempt: attempt + 1,
      delayMs: delay,
      error: err.name,
      topic: batch.topic,
      partition: batch.partition,
    });
    await sleep(delay);
  }

  /** The results of Lambda's answer, or the batch's failure when the answer is a function error or malformed. */
  private answer(batch: InvocationBatch, out: InvokeCommandOutput, fail: Fail): BatchResults {
    const text = out.Payload == null ? '' : Buffer.from(out.Payload).toString('utf8');
    const statusCode = out.StatusCode ?? 0;
    if (out.FunctionError != null) {
      fail(`the target answered with a ${out.FunctionError} function error`, statusCode, out.FunctionError, out, truncate(text));
    }
    if (this.invocationType === 'Event') {
      if (statusCode !== 202) {
        fail(`asynchronous invocation answered ${statusCode}, expected 202`, statusCode, 'UnexpectedStatus', out, truncate(text));
      }
      return new Array(batch.records.length).fill(undefined);
    }
    if (statusCode !== 200)
      fail(`invocation answered ${statusCode}, expected 200`, statusCode, 'UnexpectedStatus', out, truncate(text));
    return this.results(batch, text, (reason) =>
      fail(`malformed response: ${reason}`, statusCode, 'MalformedResponse', out, truncate(text)),
    );
  }

  /**
   * Confluent format: the response must be an array as long as the batch whose entries' payloads
   * carry the records' coordinates; each entry's payload is that record's result. Other formats have
   * no response contract: an array as long as the batch gives one result per record, anything else is
   * the result of every record.
   */
  private results(batch: InvocationBatch, text: string, malformed: (reason: string) => never): BatchResults {
    let response: unknown;
    try {
      response = text === '' ? null : JSON.parse(text);
    } catch {
      return malformed('not JSON');
    }
    const n = batch.records.length;
    if (this.payloadFormat !== 'confluent') {
      return Array.isArray(response) && response.length === n ? response : new Array(n).fill(response);
    }
    if (!Array.isArray(response))
      return malformed(`expected an array of ${n} entries, got ${response === null ? 'null' : typeof response}`);
    if (response.length !== n) return malformed(`expected ${n} entries, got ${response.length}`);
    const results = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = batch.records[i];
      const p = (response[i] as { payload?: { topic?: unknown; partition?: unknown; offset?: unknown } } | null)?.payload;
      if (typeof p !== 'object' || p === null) return malformed(`entry ${i} has no payload object`);
      if (p.topic !== r.topic || !samePosition(p.partition, r.partition) || !samePosition(p.offset, r.offset)) {
        return malformed(`entry ${i} does not carry the coordinates of ${JSON.stringify([r.topic, r.partition, r.offset])}`);
      }
      results[i] = p;
    }
    return results;
  }
}
