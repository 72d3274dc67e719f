/**
 * Your own code as the Dispatcher's target, run in the handler's process instead of invoking another function:
 * `new Dispatcher({ invoker: inProcessInvoker(fn), store, relay })` is the whole pipeline in your handler.
 */
import type { InvokerPort } from './options';
import { TargetInvocationError } from '../errors';
import type { InvocationBatch, PayloadFormat } from './payload';
import { nextPosition, SourceRecord } from './source';

/** What an in-process target gets besides the records. */
export interface InProcessCall {
  /** The invocation: topic, partition, records, and the payload a Lambda target would get (in `payloadFormat`). */
  readonly batch: InvocationBatch;
  /** Epoch ms after which the dispatcher starts no more work: the results must be back before it. */
  readonly deadline: number;
}

/**
 * The target: called with consecutive records of one topic-partition (or shard), offsets increasing, that no
 * earlier attempt finished; answers with one result per record, in the records' order (each is relayed to the
 * response topic under its record's coordinates). Throwing fails the call's records, as a function error of a
 * Lambda target does: the dispatcher's `onError` decides what happens to them.
 */
export type InProcessTarget = (
  records: readonly SourceRecord[],
  call: InProcessCall,
) => readonly unknown[] | Promise<readonly unknown[]>;

export interface InProcessInvokerOptions {
  /** Names the target in error records and logs. @default 'in-process' */
  readonly functionName?: string;
  /** The format of `call.batch.payload`; batches are sized by it (6 MB, as for a Lambda target). @default 'confluent' */
  readonly payloadFormat?: PayloadFormat;
}

/**
 * An invoker for the Dispatcher that calls `target` in process: the Dispatcher still skips what is done, stores
 * results before relaying them, relays stored results again on a retry and answers with the partitions to retry,
 * so a function triggered by the event source mapping gets the same guarantees as a separate target function.
 */
export function inProcessInvoker(target: InProcessTarget, options: InProcessInvokerOptions = {}): InvokerPort {
  const functionName = options.functionName ?? 'in-process';
  return {
    functionName,
    invocationType: 'RequestResponse',
    payloadFormat: options.payloadFormat ?? 'confluent',
    async invoke(batch: InvocationBatch, deadline: number): Promise<readonly unknown[]> {
      const records = batch.records;
      const fail = (message: string, functionError: string, payload?: string): TargetInvocationError =>
        new TargetInvocationError(
          message,
          batch.topic,
          batch.partition,
          records[0].offset,
          nextPosition(records[records.length - 1].offset),
          { statusCode: 200, functionError, payload },
        );
      let results: readonly unknown[];
      try {
        results = await target(records, { batch, deadline });
      } catch (e) {
        // The message may hold record data: it goes to the error record's payload (as a Lambda target's error
        // does), never into the error's message, which is logged.
        const { name, message } = describeThrown(e);
        throw fail(`${functionName} threw ${name}`, 'Unhandled', JSON.stringify({ errorType: name, errorMessage: message }));
      }
      if (!Array.isArray(results) || results.length !== records.length) {
        const got = Array.isArray(results) ? `${results.length} results` : typeof results;
        throw fail(`${functionName} answered ${got} for ${records.length} records`, 'MalformedResponse');
      }
      return asJson(results, (name, message) =>
        fail(
          `${functionName} answered results that are not JSON (${name})`,
          'MalformedResponse',
          JSON.stringify({ errorType: name, errorMessage: message }),
        ),
      );
    },
  };
}

/**
 * The results as a Lambda target's answer carries them: their JSON, read back (undefined and functions become null),
 * so that what is stored and what is relayed are the same values, whatever the code does with its objects later. A
 * result without JSON (a BigInt, a cycle, a toJSON that throws) fails the call's records with `malformed`.
 */
function asJson(results: readonly unknown[], malformed: (name: string, message: string) => Error): readonly unknown[] {
  try {
    return JSON.parse(JSON.stringify(results)) as unknown[];
  } catch (e) {
    const { name, message } = describeThrown(e);
    throw malformed(name, message);
  }
}

/** The name and message of whatever the code threw, even a value whose text cannot be had. */
function describeThrown(e: unknown): { name: string; message: string } {
  try {
    return e instanceof Error ? { name: String(e.name), message: String(e.message) } : { name: 'Error', message: String(e) };
  } catch {
    return { name: 'Error', message: `a thrown ${typeof e} without text` };
  }
}
