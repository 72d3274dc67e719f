/**
 * What both local event source mappings (Kafka, Kinesis) do with one batch: invoke until it succeeds, retry
 * throttling without counting it, honour partial batch responses, bisect on function errors, stop retrying
 * after MaximumRetryAttempts or MaximumRecordAgeInSeconds, and then hand the batch's description to the
 * on-failure destination (retried until it takes it: the records' position moves past them only after that).
 */
import { ESM_LIMITS } from '../contract/esm-limits';
import type { OnFailureDestination } from './destination';
import { LocalEsmConfigError } from './errors';
import { FailureCondition, InvokeOutcome, MAX_PAYLOAD_BYTES, payloadBytes } from './kafka/event';
import type { Invoker } from './invoker';

export class StoppedError extends Error {
  public override readonly name = 'StoppedError';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The settings both mappings share, checked against the limits Lambda sets; the message names the setting and the value. */
export function validateMappingOptions(
  o: {
    batchSize?: number;
    maxBatchingWindowSeconds?: number;
    retryAttempts?: number;
    maximumRecordAgeSeconds?: number;
    startingPosition?: string;
    startingPositionTimestamp?: number;
    functionName?: string;
    handler?: string;
  },
  defaults: { maxBatchingWindowSeconds: number },
): void {
  const fail = (msg: string) => {
    throw new LocalEsmConfigError(msg);
  };
  const bs = o.batchSize ?? 100;
  if (!Number.isInteger(bs) || bs < ESM_LIMITS.batchSize[0] || bs > ESM_LIMITS.batchSize[1])
    fail(`batchSize must be an integer from ${ESM_LIMITS.batchSize[0]} to ${ESM_LIMITS.batchSize[1]}, got ${bs}`);
  const w = o.maxBatchingWindowSeconds ?? defaults.maxBatchingWindowSeconds;
  if (!(w >= ESM_LIMITS.maxBatchingWindowSeconds[0] && w <= ESM_LIMITS.maxBatchingWindowSeconds[1]))
    fail(
      `maxBatchingWindowSeconds must be from ${ESM_LIMITS.maxBatchingWindowSeconds[0]} to ${ESM_LIMITS.maxBatchingWindowSeconds[1]}, got ${w}`,
    );
  const r = o.retryAttempts ?? -1;
  if (!Number.isInteger(r) || r < -1 || r > ESM_LIMITS.retryAttempts[1])
    fail(
      `retryAttempts must be -1 (until the records expire) or ${ESM_LIMITS.retryAttempts[0]} to ${ESM_LIMITS.retryAttempts[1]}, got ${r}`,
    );
  const age = o.maximumRecordAgeSeconds ?? -1;
  if (!(age === -1 || (age >= ESM_LIMITS.maxRecordAgeSeconds[0] && age <= ESM_LIMITS.maxRecordAgeSeconds[1])))
    fail(
      `maximumRecordAgeSeconds must be -1 or ${ESM_LIMITS.maxRecordAgeSeconds[0]} to ${ESM_LIMITS.maxRecordAgeSeconds[1]}, got ${age}`,
    );
  const sp = o.startingPosition ?? 'TRIM_HORIZON';
  if (!['LATEST', 'TRIM_HORIZON', 'AT_TIMESTAMP'].includes(sp))
    fail(`startingPosition must be LATEST, TRIM_HORIZON or AT_TIMESTAMP, got ${sp}`);
  if (sp === 'AT_TIMESTAMP' && !Number.isFinite(o.startingPositionTimestamp))
    fail('startingPositionTimestamp is required with AT_TIMESTAMP (epoch milliseconds)');
  if (!o.functionName === !o.handler)
    fail('give exactly one of functionName (Lambda Invoke API) or handler ("path/module.export", in-process)');
}

export interface RetryPolicy {
  /** Retries after the first failed invocation; -1 retries until the records expire. */
  readonly retryAttempts: number;
  /** Oldest record age retried, in seconds; -1 for no limit. */
  readonly maximumRecordAgeSeconds: number;
  readonly bisectBatchOnFunctionError?: boolean;
  readonly reportBatchItemFailures?: boolean;
  /** Delay between retries of a failed or throttled batch, ms. */
  readonly retryDelayMs: number;
}

export interface DeliveryStats {
  invocations: number;
  /** Invocations answered with a function error, or a partial batch response naming records. */
  failedInvocations: number;
  /** Invocations answered with throttling (retried, not counted as failures). */
  throttledInvocations: number;
  onFailureRecords: number;
  recordsSentToOnFailure: number;
}

/** What differs between sources: the event, the partial batch response, the on-failure record. */
export interface BatchShape<R> {
  event(records: readonly R[]): unknown;
  /** The records to retry after a partial batch response: [] when none failed, all when the answer is not a valid one. */
  partialFailures(records: readonly R[], response: unknown): R[];
  /** When the record entered the source, epoch ms: its age for MaximumRecordAgeInSeconds. */
  timestamp(record: R): number;
  /** The batch's coordinates for a log line (never record bytes). */
  where(records: readonly R[]): string;
  onFailureRecord(a: {
    condition: FailureCondition;
    approximateInvokeCount: number;
    last?: InvokeOutcome;
    records: readonly R[];
    withPayload: boolean;
  }): Record<string, unknown>;
  /** Whether the records left after a partial batch response are bisected too, or only retried from the first failed one. */
  readonly bisectPartialFailures: boolean;
  /** The condition named when the records grew too old. */
  readonly expiredCondition: FailureCondition;
  /** Whether records too old are discarded before any invocation (throttled batches included), not only after a failure. */
  readonly expireBeforeInvoke: boolean;
}

export class BatchDelivery<R> {
  constructor(
    private readonly shape: BatchShape<R>,
    private readonly invoker: Invoker,
    private readonly policy: RetryPolicy,
    private readonly destination: OnFailureDestination | undefined,
    private readonly stats: DeliveryStats,
    private readonly isRunning: () => boolean,
    private readonly log: (line: string) => void,
    /** True once the mapping was killed: an answer that comes after that is not acted on, as after a crash. */
    private readonly isKilled: () => boolean = () => false,
  ) {}

  /** Invokes until the batch succeeds or goes to the on-failure destination; throws StoppedError when the mapping stops first. */
  /** keepAlive runs before each wait to retry (a Kafka consumer's heartbeat, so a long retry keeps its partitions). */
  async deliver(records: R[], keepAlive?: () => Promise<void>): Promise<void> {
    let event = this.shape.event(records);
    if (payloadBytes(event) > MAX_PAYLOAD_BYTES) return this.sendToOnFailure('MaximumPayloadSizeExceeded', 0, undefined, records);
    let failedInvokes = 0;
    let last: InvokeOutcome | undefined;
    for (;;) {
      if (!this.isRunning()) throw new StoppedError('mapping stopped before the batch succeeded');
      if (this.shape.expireBeforeInvoke && this.expired(records))
        return this.sendToOnFailure(this.shape.expiredCondition, failedInvokes, last, records);
      const out = await this.invoker.invoke(event);
      this.stats.invocations++;
      if (this.isKilled()) throw new StoppedError('mapping killed while the batch was in flight');
      if (out.throttled) {
        this.stats.throttledInvocations++;
        await keepAlive?.();
        await sleep(this.policy.retryDelayMs);
        continue;
      } // retried, not counted
      last = out;
      let remaining: R[] = out.ok ? [] : records;
      if (out.ok && this.policy.reportBatchItemFailures) remaining = this.shape.partialFailures(records, out.response);
      if (remaining.length === 0) return;
      failedInvokes++;
      this.stats.failedInvocations++;
      if (!out.ok) this.log(`invoke of ${this.shape.where(records)} (${records.length} records) failed: ${out.functionError}`);
      const partial = out.ok;
      if (this.policy.bisectBatchOnFunctionError && remaining.length > 1 && (!partial || this.shape.bisectPartialFailures)) {
        const half = Math.ceil(remaining.length / 2);
        await this.deliver(remaining.slice(0, half), keepAlive);
        return this.deliver(remaining.slice(half), keepAlive);
      }
      const expired = this.expired(remaining);
      if ((this.policy.retryAttempts >= 0 && failedInvokes > this.policy.retryAttempts) || expired) {
        return this.sendToOnFailure(
          expired ? this.shape.expiredCondition : 'RetryAttemptsExhausted',
          failedInvokes,
          out,
          remaining,
        );
      }
      records = remaining;
      event = this.shape.event(records);
      await keepAlive?.();
      await sleep(this.policy.retryDelayMs);
    }
  }

  /** Hands records to the on-failure destination without invoking (e.g. rejected by the schema registry step). */
  reject(condition: FailureCondition, records: R[]): Promise<void> {
    return this.sendToOnFailure(condition, 0, undefined, records);
  }

  private expired(records: readonly R[]): boolean {
    const age = this.policy.maximumRecordAgeSeconds;
    return age >= 0 && Date.now() - this.shape.timestamp(records[0]) > age * 1000;
  }

  private async sendToOnFailure(
    condition: FailureCondition,
    invokes: number,
    last: InvokeOutcome | undefined,
    records: R[],
  ): Promise<void> {
    const where = this.shape.where(records);
    if (!this.destination) {
      this.log(`on-failure (${condition}) without a destination, skipping ${where} (${records.length} records)`);
    } else {
      const rec = this.shape.onFailureRecord({
        condition,
        approximateInvokeCount: invokes,
        last,
        records,
        withPayload: this.destination.withPayload,
      });
      // The destination must take the record before the position moves past it; retry until it does.
      for (let i = 0; ; i++) {
        try {
          await this.destination.send(rec);
          break;
        } catch (e) {
          if (!this.isRunning()) throw e;
          this.log(`on-failure destination ${this.destination.target} failed for ${where} (${(e as Error).message}); retrying`);
          await sleep(Math.min(5000, 200 * 2 ** i));
        }
      }
    }
    this.stats.onFailureRecords++;
    this.stats.recordsSentToOnFailure += records.length;
  }
}
