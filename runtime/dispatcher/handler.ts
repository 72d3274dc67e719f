/**
 * Lambda handlers on the one pipeline (Dispatcher), configured by the contract the constructs write:
 * - `dispatcherHandler()`: the KafkaDispatcher's function, whose target is another Lambda function;
 * - `inProcessHandler(fn)` / `inProcessRecordHandler(fn)`: your function, whose target is your code, called in the
 *   same process (InProcessDispatcher writes its configuration).
 * Both decode, skip what is done, store results before relaying them and answer with the partitions to retry, the same
 * way: only the default target differs.
 */
import {
  DISPATCHER_CONFIG_ENV,
  DispatcherConfig,
  DispatcherConfigError,
  parseDispatcherConfig,
} from '../../contract/dispatcher-config';
import { SchemaDecodeError } from '../errors';
import type { Logger } from '../logger';
import { Dispatcher, DispatcherResponse } from './dispatcher';
import { dispatcherOptionsFromConfig } from './factory';
import { InProcessCall, inProcessInvoker } from './in-process';
import type { DispatcherClients, InvocationContext, SchemaDecoderPort } from './options';
import { isEmptyEvent, SourceRecord } from './source';
import type { KafkaHeader } from '../kafka/decode';
import { isUtf8 } from 'node:buffer';

/** A Lambda handler of Kafka and Kinesis event source mapping events. */
export type PipelineHandler = (event: unknown, context: InvocationContext) => Promise<DispatcherResponse>;

/** Where a handler's pipeline comes from. */
export interface PipelineHandlerOptions {
  /**
   * The configuration, as the constructs write it (validated the same way).
   * @default - read from the CKL_DISPATCHER_CONFIG environment variable, once per container
   */
  readonly config?: DispatcherConfig | string;
  /** SDK clients to use instead of those made from the configuration (tests, custom endpoints). @default - made when needed */
  readonly clients?: DispatcherClients;
  /** @default a JsonLogger with the configuration's service */
  readonly logger?: Logger;
}

/**
 * A handler that builds its Dispatcher on the first event (one per container: the relay's producer and the SDK
 * clients are reused across invocations) and answers an event without records at once. A configuration that does
 * not build fails each invocation with its error, naming what to fix.
 */
export function pipelineHandler(build: () => Dispatcher): PipelineHandler {
  let dispatcher: Dispatcher | undefined;
  return async (event, context) => {
    if (isEmptyEvent(event)) return { batchItemFailures: [] };
    dispatcher ??= build();
    return dispatcher.handle(event, context);
  };
}

function readConfig(options: PipelineHandlerOptions): DispatcherConfig {
  const c = options.config;
  return parseDispatcherConfig(
    c === undefined ? process.env[DISPATCHER_CONFIG_ENV] : typeof c === 'string' ? c : JSON.stringify(c),
  );
}

/** The KafkaDispatcher's handler: its targets are Lambda functions. */
export function dispatcherHandler(options: PipelineHandlerOptions = {}): PipelineHandler {
  return pipelineHandler(() => {
    const config = readConfig(options);
    if (config.target.inProcess === true) {
      throw new DispatcherConfigError(
        "config.target.inProcess: this configuration is for a function that runs its own code (InProcessDispatcher's); " +
          "the dispatcher function's names its target (KafkaDispatcher's): deploy the dispatcher with KafkaDispatcher",
      );
    }
    return new Dispatcher(dispatcherOptionsFromConfig(config, options.clients, options.logger));
  });
}

/** How a record's key or value reaches your code; `T` is its type there. */
export interface FieldDecoding<T> {
  readonly kind: 'buffer' | 'text' | 'json';
  /** Only carries `T` for the compiler. */
  readonly type?: T;
}

/**
 * The formats of a key or value: its bytes (`Buffer`), its UTF-8 text, or its JSON value (the value its schema
 * decodes to, when the configuration has schemas). A field that is not what its format says (not UTF-8, not JSON)
 * is a SchemaDecodeError naming the record's coordinates: the record takes the error path, your code never sees it.
 * `text` of a field decoded with a schema whose bytes are not text (confluent, glue, mapping-source) is refused when
 * the handler is built.
 */
export const FieldAs = {
  buffer: { kind: 'buffer' } as FieldDecoding<Buffer>,
  text: { kind: 'text' } as FieldDecoding<string>,
  json: <T = unknown>(): FieldDecoding<T> => ({ kind: 'json' }),
} as const;

/** A record as your code gets it: Kafka coordinates (Kinesis: stream, shard, sequence number) and typed fields. */
export interface InProcessRecord<V = unknown, K = string> {
  /** The topic (Kinesis: the stream name). */
  readonly topic: string;
  /** The partition (Kinesis: the shard id). */
  readonly partition: number | string;
  /** The offset (Kinesis: the sequence number, a decimal string). */
  readonly offset: number | string;
  /** Epoch ms (Kinesis: approximate arrival). */
  readonly timestamp: number;
  /** null when the record has none. */
  readonly key: K | null;
  /** null for a tombstone. */
  readonly value: V | null;
  readonly headers: readonly KafkaHeader[];
  /** The decoded record, with every helper (`keyAsText()`, `header(name)`, `raw`, ...). */
  readonly record: SourceRecord;
}

/** Your code, a batch at a time: one result per record, in order (each is relayed to the response topic, if any). */
export type InProcessBatchFunction<V, K, R = unknown> = (
  records: readonly InProcessRecord<V, K>[],
  call: InProcessCall,
) => readonly R[] | Promise<readonly R[]>;

/** Your code, a record at a time: its result (relayed to the response topic, if any). */
export type InProcessRecordFunction<V, K, R = unknown> = (record: InProcessRecord<V, K>, call: InProcessCall) => R | Promise<R>;

export interface InProcessHandlerOptions<V = unknown, K = string> extends PipelineHandlerOptions {
  /** @default FieldAs.json() */
  readonly value?: FieldDecoding<V>;
  /** @default FieldAs.text */
  readonly key?: FieldDecoding<K>;
}

/**
 * Your function's handler: the whole pipeline in process, configured by InProcessDispatcher (or `options.config`).
 * `fn` gets consecutive records of one partition (Kinesis: shard) that no earlier attempt finished, at most
 * `recordsPerInvocation`, offsets increasing; partitions run in parallel up to `concurrency`. Throwing fails the call's
 * records as a target's function error does (`onError` decides). Records skipped as done never reach it; a retry
 * relays stored results again instead of calling it.
 *
 * @example
 * export const handler = inProcessHandler<Order>(async (records) => Promise.all(records.map((r) => save(r.value!))));
 */
export function inProcessHandler<V = unknown, K = string, R = unknown>(
  fn: InProcessBatchFunction<V, K, R>,
  options: InProcessHandlerOptions<V, K> = {},
): PipelineHandler {
  return pipelineHandler(() => inProcessDispatcher(fn, options));
}

/** As `inProcessHandler`, with your code called once per record, in offset order within a partition. */
export function inProcessRecordHandler<V = unknown, K = string, R = unknown>(
  fn: InProcessRecordFunction<V, K, R>,
  options: InProcessHandlerOptions<V, K> = {},
): PipelineHandler {
  return inProcessHandler<V, K, R>(async (records, call) => {
    const results: R[] = [];
    for (const record of records) results.push(await fn(record, call));
    return results;
  }, options);
}

function inProcessDispatcher<V, K, R>(fn: InProcessBatchFunction<V, K, R>, options: InProcessHandlerOptions<V, K>): Dispatcher {
  const config = readConfig(options);
  if (config.target.inProcess !== true) {
    throw new DispatcherConfigError(
      `config.target.inProcess: this configuration is a KafkaDispatcher's (its target is ${JSON.stringify(config.target.functionName ?? 'a route')}); ` +
        "a function that runs its own code reads InProcessDispatcher's: attach InProcessDispatcher to this function",
    );
  }
  const keyAs = options.key ?? (FieldAs.text as FieldDecoding<K>);
  const valueAs = options.value ?? FieldAs.json<V>();
  refuseTextOfSchemaBytes(config, 'key', keyAs.kind);
  refuseTextOfSchemaBytes(config, 'value', valueAs.kind);
  const base = dispatcherOptionsFromConfig(config, options.clients, options.logger);
  const typed = new WeakMap<SourceRecord, InProcessRecord<V, K>>();
  const view = typedRecords<V, K>(keyAs, valueAs);
  return new Dispatcher({
    ...base,
    invoker: inProcessInvoker(
      (records, call) =>
        fn(
          records.map((r) => typed.get(r)!),
          call,
        ),
      {
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'in-process',
        payloadFormat: config.target.payloadFormat,
      },
    ),
    schemas: {
      active: true,
      async decode(records) {
        const errors = base.schemas?.active ? await base.schemas.decode(records) : new Map<SourceRecord, Error>();
        for (const record of records) {
          if (errors.has(record)) continue;
          try {
            typed.set(record, view(record));
          } catch (e) {
            errors.set(record, e as Error);
          }
        }
        return errors;
      },
    } satisfies SchemaDecoderPort,
  });
}

/**
 * A field decoded with a schema (Confluent or Glue framing, or the mapping's source format) holds schema-encoded bytes
 * (Avro, Protobuf, framed JSON), not text: read as text, some records would reach the code as garbled text and others
 * fail as not UTF-8, by their bytes. Refused when the handler is built, naming the formats that fit.
 */
function refuseTextOfSchemaBytes(config: DispatcherConfig, name: 'key' | 'value', kind: FieldDecoding<unknown>['kind']): void {
  const format = config.schemas?.[name];
  if (kind !== 'text' || format === undefined || format === 'bytes' || format === 'mapping-json') return;
  throw new DispatcherConfigError(
    `config.schemas.${name}: the ${name} is decoded with its schema (${format}), so its bytes are not text: read it with ` +
      `FieldAs.json() (the decoded value) or FieldAs.buffer (the bytes as produced), not FieldAs.text`,
  );
}

/** Makes the typed record of a decoded one, or throws SchemaDecodeError naming the field. */
function typedRecords<V, K>(keyAs: FieldDecoding<K>, valueAs: FieldDecoding<V>): (r: SourceRecord) => InProcessRecord<V, K> {
  return (record) => ({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: field(record, 'key', keyAs.kind) as K | null,
    value: field(record, 'value', valueAs.kind) as V | null,
    headers: record.headers,
    record,
  });
}

function field(record: SourceRecord, name: 'key' | 'value', kind: FieldDecoding<unknown>['kind']): unknown {
  const decoded = record.decoded?.[name];
  if (decoded !== undefined && kind === 'json') return decoded.value;
  const bytes = record[name];
  if (bytes === null || kind === 'buffer') return bytes;
  const fail = (reason: string) => new SchemaDecodeError(record.topic, record.partition, record.offset, name, undefined, reason);
  if (!isUtf8(bytes)) throw fail(`it is not UTF-8 text (${kind} expected)`);
  const text = bytes.toString('utf8');
  if (kind === 'text') return text;
  try {
    return JSON.parse(text);
  } catch {
    throw fail('it is not JSON');
  }
}
