/**
 * A model of the event source mapping driving the real Dispatcher and the real idempotency stores against
 * MemoryDynamoDb, with every fault a schedule names, and the invariants checked while it runs.
 *
 * The mapping: partitions (Kinesis: shards) with offsets that have gaps (compaction, transaction markers); a
 * committed position per partition (its first unacknowledged record); batches of any size from it, redelivered
 * shifted, split or from before it (a rebalance after a lost commit); several execution environments, each with its
 * own stores (its own container id) and at most one invocation at a time; invocations that overlap on a partition;
 * partial batch responses on or off. A Kafka event carries several partitions, a Kinesis event one shard
 * (parallelization factor 1: no overlap on a shard).
 *
 * Two paths to the default target: `lambda`, a Lambda function invoked by the Dispatcher (a fake InvokerPort), and
 * `in-process`, the user's code called in the handler's own process by the exported `inProcessHandler` (the handler
 * as a user deploys it, configured by an in-process configuration and given the simulation's DynamoDB client; the
 * stores, relay, metrics, route targets and schema decoder it takes from the configuration are the simulation's).
 * On the in-process path the records reach the code typed (text key, JSON value, checked against what was produced),
 * a poison record is one whose value is not JSON (the handler's own decoding refuses it), and the code's faults are
 * those of code in the same process: it throws (after running some of its records, with record data in the
 * message), answers too few results, or the process crashes in the middle of the call.
 *
 * Faults, each taken from the schedule's decision lists: DynamoDB throttling (both names), timeouts before and
 * after the write landed, unprocessed keys and items, slow answers, hangs (the environment crashed at that await);
 * target failures, throttling, unknown outcomes (ran or not), hangs; relay failures before and after the write,
 * hangs; schema registry outages. An invocation whose time runs out (the clock passed its end) is killed: nothing
 * of its environment answers again. Each environment's range store sees the clock with a skew within the margin.
 *
 * Invariants (violations are collected; the property fails on any):
 * - no record is run by the target again, nor written to the error topic again, once the store said it was done
 *   (read through the store's own API on a copy-free dry-run client after each write of the invocation);
 * - a record run again was, each time before, run by an invocation that then met a fault (DynamoDB, relay, a
 *   crash, a lost lease), or with an unknown outcome: the documented at-least-once windows; those are counted;
 * - no record is acknowledged unless its target run completed (and its result is on its response topic when its
 *   route has one), or it is on the error topic with its bytes (or its coordinates, truncated), or dropped after
 *   a failure with DROP, or sent to the mapping's on-failure destination;
 * - a partial batch response names only partitions and offsets of the event;
 * - no log line, metric line or thrown error carries a record's bytes (canaries in keys and values);
 * - after the faults stop and leases and keys expire, every environment still alive makes progress on every
 *   partition: each invocation it gets succeeds (a poison record with FAIL goes to the on-failure destination).
 */
import { Dispatcher } from '../../runtime/dispatcher/dispatcher';
import * as factory from '../../runtime/dispatcher/factory';
import { FieldAs, inProcessHandler, InProcessRecord, PipelineHandler } from '../../runtime/dispatcher/handler';
import type {
  DispatcherClients,
  DispatcherOptions,
  IdempotencyStorePort,
  InvokerPort,
  RelayPort,
  SchemaDecoderPort,
} from '../../runtime/dispatcher/options';
import { SchemaDecodeError, SchemaRegistryUnavailableError, TargetInvocationError } from '../../runtime/errors';
import { DynamoDbIdempotencyStore, jsonPointerKey } from '../../runtime/idempotency/store';
import { DynamoDbRangeStore } from '../../runtime/idempotency/ranges';
import { JsonLogger } from '../../runtime/logger';
import { EmfMetrics } from '../../runtime/metrics';
import { decodeSourceEvent, SourceRecord } from '../../runtime/dispatcher/source';
import { DispatcherConfig, IDEMPOTENCY_PARTITION_KEY } from '../../contract/dispatcher-config';
import { Fault, MemoryDynamoDb } from './memory-dynamodb';

// ---------------------------------------------------------------------------------------------------------------
// Schedules

export interface RecordPlan {
  /** Offsets skipped before this record (compaction, transaction markers). */
  readonly gap: number;
  /** Its value does not decode with its schema. */
  readonly poison: boolean;
  /** Its result is larger than the store keeps. */
  readonly big: boolean;
  /** Which route takes it (0: default target, 1: header route, 2: key-prefix route). */
  readonly route: number;
}

export interface DeliveryPart {
  /** Partition index (taken modulo the partitions). */
  readonly p: number;
  readonly size: number;
  /** Records before the committed position to start from (a redelivery after a lost commit). */
  readonly back: number;
}

export interface Delivery {
  readonly env: number;
  readonly parts: readonly DeliveryPart[];
}

export interface Step {
  readonly deliveries: readonly Delivery[];
  /** Clock advance after the step's invocations settled. */
  readonly advanceMs: number;
}

export interface Schedule {
  /**
   * The default target: a Lambda function the Dispatcher invokes, or the user's code in the handler's process
   * (inProcessHandler). @default 'lambda'
   */
  readonly path?: 'lambda' | 'in-process';
  readonly source: 'kafka' | 'kinesis';
  /** ranges: DynamoDbRangeStore (coordinates); items: DynamoDbIdempotencyStore keyed by a value field; strict: per-key holds. */
  readonly store: 'ranges' | 'items' | 'strict';
  readonly onError: 'fail' | 'log' | 'drop';
  readonly reportBatchItemFailures: boolean;
  /** The dispatcher's records per target invocation. */
  readonly recordsPerInvocation: number;
  readonly routes: boolean;
  /** The default target answers synchronously and its results go to a response topic. */
  readonly responses: boolean;
  /** Per environment: the skew of its range store's clock, ms (within the margin). */
  readonly skews: readonly number[];
  readonly partitions: readonly (readonly RecordPlan[])[];
  readonly steps: readonly Step[];
  /** Decision lists, consumed in order; past their end every decision is 0 (no fault). */
  readonly dynamo: readonly number[];
  readonly target: readonly number[];
  readonly relay: readonly number[];
  readonly registry: readonly number[];
  readonly ticks: readonly number[];
}

// ---------------------------------------------------------------------------------------------------------------
// Constants of the model

const FUNCTION_TIMEOUT_MS = 60_000;
const TIME_MARGIN_MS = 10_000;
const TARGET_TIMEOUT_MS = 30_000;
const MAX_RESULT_BYTES = 512;
const START_MS = 1_700_000_000_000;
const KINESIS_BASE = 49590338271490256608559692538361571095921575989136588898n;
const TABLE = 'idempotency';
let runCounter = 0;

/** Which kind of fault a decision number names; 0 (and anything unlisted) is none. */
function dynamoFault(n: number, op: string): { fault?: Fault; slowMs?: number; label?: string } {
  switch (n) {
    case 1:
      return { fault: { kind: 'throw', name: 'ProvisionedThroughputExceededException' }, label: 'throttled' };
    case 2:
      return { fault: { kind: 'throw', name: 'ThrottlingException' }, label: 'throttled' };
    case 3:
      return { fault: { kind: 'throw', name: 'TimeoutError' }, slowMs: 3_000, label: 'timeout' };
    case 4:
      return { fault: { kind: 'throwAfter', name: 'TimeoutError' }, slowMs: 3_000, label: 'timeout after write' };
    case 5:
      return op.startsWith('Batch') ? { fault: { kind: 'unprocessed', fraction: 0.5 }, label: 'unprocessed' } : {};
    case 6:
      return { slowMs: 8_000, label: 'slow' };
    case 7:
      return { fault: { kind: 'hang' }, label: 'hang' };
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The ledger: what happened, in one sequence

interface RecordInfo {
  readonly id: string;
  readonly p: number;
  readonly index: number;
  readonly topic: string;
  readonly partition: number | string;
  readonly offset: number | string;
  readonly plan: RecordPlan;
  readonly key: string;
  readonly value: string;
  readonly canary: string;
  readonly raw: any;
  /** The store's key for it. */
  readonly storeKey: string;
  source?: SourceRecord;
}

interface Occurrence {
  readonly kind: 'run' | 'error';
  readonly seq: number;
  readonly invocation: Invocation;
  readonly unknown: boolean;
}

interface Invocation {
  readonly id: number;
  readonly env: Env;
  readonly end: number;
  readonly records: RecordInfo[];
  readonly startedAt: number;
  endedAt?: number;
  /** Sequence numbers of faults this invocation met. */
  readonly faults: number[];
  crashed: boolean;
  /** Runs and error writes not yet confirmed done by the store. */
  pending: Array<{ record: RecordInfo; occurrence: Occurrence }>;
  unknownRecords: number;
  metrics: Record<string, number>[];
  /** Probes in flight: the invocation's final probe waits for them. */
  probes: Promise<void>[];
}

interface Env {
  readonly n: number;
  readonly container: string;
  readonly skew: number;
  dead: boolean;
  readonly deadSignal: Promise<'crashed'>;
  kill(): void;
  current?: Invocation;
  /** The Lambda handler of the environment: the Dispatcher's, or the exported in-process handler. */
  handle: PipelineHandler;
}

export interface SimulationResult {
  readonly violations: string[];
  readonly stats: Record<string, number>;
  readonly trace: string[];
}

class Decisions {
  private i = 0;
  constructor(private readonly list: readonly number[]) {}
  next(): number {
    return this.i < this.list.length ? this.list[this.i++] : 0;
  }
}

/** The value of every record the simulation produces (poison records on the in-process path excepted). */
interface SimValue {
  readonly id: string;
  readonly secret: string;
  readonly n: number;
}

/** Per in-process handler (by the clients it was given): the simulation's ports in place of the configuration's. */
const portSwaps = new WeakMap<DispatcherClients, (built: DispatcherOptions) => DispatcherOptions>();
let factorySpied = false;

/** Lets portSwaps replace the ports the handler builds from its configuration; other callers get the real ones. */
function swapPortsOfInProcessHandlers(): void {
  if (factorySpied) return;
  factorySpied = true;
  const real = factory.dispatcherOptionsFromConfig;
  jest.spyOn(factory, 'dispatcherOptionsFromConfig').mockImplementation((config, clients, logger) => {
    const built = real(config, clients, logger);
    const swap = clients === undefined ? undefined : portSwaps.get(clients);
    return swap === undefined ? built : swap(built);
  });
}

/** Runs one schedule to the end and returns what it found. */
export async function simulate(s: Schedule): Promise<SimulationResult> {
  if (s.path === 'in-process') swapPortsOfInProcessHandlers();
  const sim = new Simulation(s);
  // The dispatcher and the per-key store read Date.now: they see the simulation's clock.
  const realNow = Date.now;
  Date.now = () => sim.clock();
  try {
    return await sim.run();
  } finally {
    Date.now = realNow;
  }
}

class Simulation {
  private readonly run_ = ++runCounter;
  private readonly db = new MemoryDynamoDb();
  private now = START_MS;
  private seq = 0;
  private readonly violations: string[] = [];
  private readonly trace: string[] = [];
  private readonly stats: Record<string, number> = {
    invocations: 0,
    crashes: 0,
    effects: 0,
    repeats: 0,
    repeatsUnknown: 0,
    repeatsOverlapItems: 0,
    repeatsAfterFault: 0,
    errorWrites: 0,
    faults: 0,
    acks: 0,
    destination: 0,
  };
  private readonly records: RecordInfo[][] = [];
  private readonly byId = new Map<string, RecordInfo>();
  private readonly committed: number[] = [];
  private readonly occurrences = new Map<string, Occurrence[]>();
  /** When the store first said the record was done (sequence number). */
  private readonly confirmed = new Map<string, number>();
  private readonly errorSink = new Map<string, { truncated: boolean; bytes: boolean }[]>();
  private readonly responses = new Map<string, unknown[]>();
  private readonly destination = new Set<string>();
  private readonly failedOnce = new Set<string>();
  private readonly envs: Env[] = [];
  private readonly dynamo: Decisions;
  private readonly target: Decisions;
  private readonly relay: Decisions;
  private readonly registry: Decisions;
  private readonly ticks: Decisions;
  private quiet = false;
  private invocationCounter = 0;
  private readonly canaries: string[] = [];
  private readonly table = `${TABLE}-${this.run_}`;

  constructor(private readonly s: Schedule) {
    this.dynamo = new Decisions(s.dynamo);
    this.target = new Decisions(s.target);
    this.relay = new Decisions(s.relay);
    this.registry = new Decisions(s.registry);
    this.ticks = new Decisions(s.ticks);
    this.db.createTable(this.table, IDEMPOTENCY_PARTITION_KEY);
    s.partitions.forEach((plans, p) => {
      this.committed.push(0);
      this.records.push([]);
      let offset = p * 7;
      for (const plan of plans) this.addRecord(p, plan, (offset += plan.gap + 1) - 1);
    });
  }

  clock(): number {
    return this.now;
  }

  private topicOf(p: number): { topic: string; partition: number | string } {
    return this.s.source === 'kafka'
      ? { topic: 'orders', partition: p }
      : { topic: 'stream', partition: `shardId-00000000000${p}` };
  }

  private addRecord(p: number, plan: RecordPlan, rawOffset: number): void {
    const { topic, partition } = this.topicOf(p);
    const offset = this.s.source === 'kafka' ? rawOffset : (KINESIS_BASE + BigInt(rawOffset)).toString();
    const index = this.records[p].length;
    const id = `${topic}|${partition}|${offset}`;
    const canary = `cnry${(this.run_ * 7919 + p * 104729 + index * 13).toString(36)}x${index}`;
    const key = `${plan.route === 2 ? 'b' : 'k'}-${canary}-key`;
    const json = JSON.stringify({ id, secret: `${canary}-value`, n: index });
    // On the in-process path a poison record's value is not JSON: the handler's own field decoding refuses it.
    const poisonInProcess = this.s.path === 'in-process' && plan.poison;
    const value = poisonInProcess ? json.slice(0, -1) : json;
    const raw =
      this.s.source === 'kafka'
        ? {
            topic,
            partition,
            offset,
            timestamp: 1_700_000_000_000 + rawOffset,
            timestampType: 'CREATE_TIME',
            key: Buffer.from(key).toString('base64'),
            value: Buffer.from(value).toString('base64'),
            headers: plan.route === 1 ? [{ route: [...Buffer.from('a')] }] : [],
          }
        : {
            kinesis: {
              kinesisSchemaVersion: '1.0',
              partitionKey: key,
              sequenceNumber: offset,
              data: Buffer.from(value).toString('base64'),
              approximateArrivalTimestamp: 1_700_000_000.123,
            },
            eventSource: 'aws:kinesis',
            eventVersion: '1.0',
            eventID: `${partition}:${offset}`,
            eventName: 'aws:kinesis:record',
            invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
            awsRegion: 'us-east-1',
            eventSourceARN: `arn:aws:kinesis:us-east-1:123456789012:stream/${topic}`,
          };
    // A value that is not JSON has no /id: such a record is kept by its coordinates.
    const storeKey = this.s.store === 'ranges' || poisonInProcess ? `${topic}-${partition}-${offset}` : id;
    const info: RecordInfo = { id, p, index, topic, partition, offset, plan, key, value, canary, raw, storeKey };
    this.records[p].push(info);
    this.byId.set(id, info);
    this.canaries.push(canary, Buffer.from(value).toString('base64'));
  }

  private note(line: string): void {
    if (this.trace.length < 400) this.trace.push(`${this.seq} ${line}`);
  }

  private violation(message: string): void {
    if (!this.violations.includes(message)) this.violations.push(message);
    this.note(`VIOLATION ${message}`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Environments and their fakes

  private newEnv(): Env {
    const n = this.envs.length;
    let kill!: () => void;
    const deadSignal = new Promise<'crashed'>((resolve) => {
      kill = () => resolve('crashed');
    });
    const env: Env = {
      n,
      container: `sim-${this.run_}-env-${n}`,
      skew: this.s.skews[n % this.s.skews.length] ?? 0,
      dead: false,
      deadSignal,
      kill: () => {
        env.dead = true;
        kill();
      },
      handle: undefined as unknown as PipelineHandler,
    };
    if (this.s.path === 'in-process') env.handle = this.inProcessHandler(env);
    else {
      const dispatcher = new Dispatcher(this.options(env));
      env.handle = (event, context) => dispatcher.handle(event, context);
    }
    this.envs.push(env);
    return env;
  }

  /** Before each call of a fake: a dead environment never answers; a few microtask turns interleave the others. */
  private async gate(env: Env): Promise<void> {
    if (env.dead) await new Promise(() => undefined);
    const turns = this.quiet ? 0 : this.ticks.next() % 4;
    for (let i = 0; i < turns; i++) await null;
    if (env.dead) await new Promise(() => undefined);
    const inv = env.current;
    if (inv !== undefined && this.now > inv.end) {
      // Lambda stops the invocation at its timeout: the environment is gone.
      this.note(`inv ${inv.id} env ${env.n} killed at its timeout`);
      this.crash(inv);
      await new Promise(() => undefined);
    }
  }

  private crash(inv: Invocation): void {
    if (inv.crashed) return;
    inv.crashed = true;
    inv.faults.push(++this.seq);
    this.stats.crashes++;
    inv.env.kill();
  }

  private fault(inv: Invocation | undefined, label: string): void {
    this.stats.faults++;
    if (inv !== undefined) inv.faults.push(++this.seq);
    this.note(`inv ${inv?.id} fault ${label}`);
  }

  private options(env: Env, client = this.client(env)): DispatcherOptions {
    const logs = (line: string) => this.checkLine(line, env);
    const metricsLine = (line: string) => {
      this.checkLine(line, env);
      try {
        env.current?.metrics.push(JSON.parse(line));
      } catch {
        /* not JSON: checked as a line */
      }
    };
    const storeOptions = {
      client: client as any,
      tableName: this.table,
      maxResultBytes: MAX_RESULT_BYTES,
      baseDelayMs: 0,
      maxAttempts: 4,
    };
    let store: IdempotencyStorePort;
    if (this.s.store === 'ranges')
      store = new DynamoDbRangeStore({ ...storeOptions, container: env.container, now: () => this.now + env.skew });
    else store = new DynamoDbIdempotencyStore(storeOptions);
    const relay = this.relayPort(env);
    const defaultInvoker = this.invoker(env, 'default', this.s.responses ? 'RequestResponse' : 'Event');
    const routes = !this.s.routes
      ? undefined
      : [
          ...(this.s.source === 'kafka'
            ? [
                {
                  match: { header: { name: 'route', value: 'a' } },
                  invoker: this.invoker(env, 'route-a', 'RequestResponse'),
                  responseTopic: 'responses-a',
                },
              ]
            : []),
          { match: { keyPrefix: 'b-' }, invoker: this.invoker(env, 'route-b', 'Event') },
        ];
    return {
      invoker: defaultInvoker,
      routes,
      onError: this.s.onError,
      reportBatchItemFailures: this.s.reportBatchItemFailures,
      batchSize: this.s.recordsPerInvocation,
      timeMarginMs: TIME_MARGIN_MS,
      targetTimeoutMs: TARGET_TIMEOUT_MS,
      store,
      kinesisStore: store,
      idempotencyMode: this.s.store === 'strict' ? 'strict' : 'batched',
      keyOf: this.s.store === 'ranges' ? undefined : jsonPointerKey('/id'),
      relay,
      schemas: this.decoder(env),
      logger: new JsonLogger({ write: logs, level: 'DEBUG' }),
      metrics: new EmfMetrics({ write: metricsLine }),
    };
  }

  /**
   * The environment's handler on the in-process path: the exported inProcessHandler with the user's code, an
   * in-process configuration and the environment's DynamoDB client. Where the handler takes the options the
   * configuration builds (dispatcherOptionsFromConfig), the stores, relay, metrics, route targets and schema decoder
   * are the simulation's (a store per environment with its own container and skewed clock, a relay that records what
   * reached its topics); the default target, the typed records and the field decoding are the handler's own.
   */
  private inProcessHandler(env: Env): PipelineHandler {
    const client = this.client(env);
    const ports = this.options(env, client);
    const clients: DispatcherClients = { dynamodb: client as any };
    const config: DispatcherConfig = {
      version: 2,
      target: {
        inProcess: true,
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: this.s.recordsPerInvocation,
        concurrency: 4,
        maxAttempts: 1,
        baseDelayMs: 1,
        maxDelayMs: 1,
        timeoutMs: TARGET_TIMEOUT_MS,
      },
      onError: this.s.onError,
      reportBatchItemFailures: this.s.reportBatchItemFailures,
      timeMarginMs: TIME_MARGIN_MS,
      idempotency: {
        tableName: this.table,
        mode: this.s.store === 'strict' ? 'strict' : 'batched',
        ttlSeconds: 7 * 24 * 3600,
        maxStoredResultBytes: MAX_RESULT_BYTES,
        ...(this.s.store === 'ranges' ? {} : { keyPointer: '/id' }),
        kinesisRanges: true,
      },
      relay: {
        bootstrapServers: ['127.0.0.1:9092'],
        auth: 'none',
        tls: false,
        clientId: 'sim',
        ...(this.s.responses ? { responseTopic: 'responses' } : {}),
        ...(this.s.onError === 'log' ? { errorTopic: 'errors' } : {}),
      },
    };
    portSwaps.set(clients, (built) => ({
      ...built,
      store: ports.store,
      kinesisStore: ports.kinesisStore,
      relay: ports.relay,
      routes: ports.routes,
      schemas: ports.schemas,
      metrics: ports.metrics,
    }));
    return inProcessHandler<SimValue, string>((records) => this.userCode(env, records), {
      config,
      clients,
      logger: ports.logger,
      key: FieldAs.text,
      value: FieldAs.json<SimValue>(),
    });
  }

  /**
   * The user's code on the in-process path: checks that each record arrived typed as produced, then runs them (its
   * effects counted here, outside the handler) or meets the schedule's fault.
   */
  private async userCode(env: Env, records: readonly InProcessRecord<SimValue, string>[]): Promise<unknown[]> {
    await this.gate(env);
    const inv = env.current!;
    const infos = records.map((typed) => {
      const r = this.byId.get(`${typed.topic}|${typed.partition}|${typed.offset}`);
      if (r === undefined) {
        this.violation(
          `inv ${inv.id}: the code got a record that was never produced: ${typed.topic}|${typed.partition}|${typed.offset}`,
        );
        throw new Error('unknown record');
      }
      if (typed.key !== r.key || JSON.stringify(typed.value) !== r.value || typed.record.offset !== r.offset)
        this.violation(`inv ${inv.id}: ${r.id} reached the code with other fields than produced (key or value not as typed)`);
      return r;
    });
    const n = this.quiet ? 0 : this.target.next();
    this.now += 5;
    const ran = (list: RecordInfo[]) => {
      for (const r of list) this.occur(r, 'run', inv, false);
    };
    switch (n) {
      case 1:
      case 2: {
        // The code throws after running none (1) or the first half (2) of the records; its message holds record data.
        const done = n === 1 ? 0 : Math.floor(infos.length / 2);
        ran(infos.slice(0, done));
        this.fault(inv, `code threw after ${done} of ${infos.length} records`);
        for (const r of infos) this.failedOnce.add(r.id);
        throw new Error(`refused ${infos[infos.length - 1].value}`);
      }
      case 3: {
        // The process crashes in the middle of the call: the first half of the records has run.
        ran(infos.slice(0, Math.ceil(infos.length / 2)));
        this.fault(inv, 'process crashed mid-call');
        this.crash(inv);
        return new Promise(() => undefined);
      }
      case 4:
        // A bug: the code runs every record and answers one result too few.
        ran(infos);
        this.fault(inv, 'code answered too few results');
        for (const r of infos) this.failedOnce.add(r.id);
        return infos.slice(1).map((r) => resultOf(r, 'default'));
      case 5:
        // The code never answers: the invocation is killed at its timeout.
        this.fault(inv, 'code hang');
        this.crash(inv);
        return new Promise(() => undefined);
      default:
        ran(infos);
        return infos.map((r) => resultOf(r, 'default'));
    }
  }

  /** The environment's DynamoDB client: the shared database, with the schedule's faults and the clock. */
  private client(env: Env): { send(command: any): Promise<any> } {
    return {
      send: async (command: any) => {
        await this.gate(env);
        const name = command.constructor.name.replace(/Command$/, '');
        const inv = env.current;
        const d = this.quiet ? {} : dynamoFault(this.dynamo.next(), name);
        this.now += 1 + (d.slowMs ?? 0);
        if (d.label !== undefined) this.fault(inv, `DynamoDB ${name} ${d.label}`);
        if (inv !== undefined && this.now > inv.end) {
          this.note(`inv ${inv.id} killed at its timeout during ${name}`);
          this.crash(inv);
          await new Promise(() => undefined);
        }
        if (d.fault?.kind === 'hang' && inv !== undefined) {
          this.crash(inv);
          await new Promise(() => undefined);
        }
        try {
          const out = await this.db.request(name, command.input, d.fault ?? undefined);
          if (process.env.SIM_DEBUG)
            this.note(`ddb ${name} ${JSON.stringify(command.input).slice(0, 400)} -> ${JSON.stringify(out).slice(0, 300)}`);
          if (inv !== undefined && name !== 'GetItem' && name !== 'BatchGetItem') this.probe(inv);
          return out;
        } catch (e) {
          if ((e as Error).name === 'ConditionalCheckFailedException') inv?.faults.push(++this.seq);
          if (d.fault?.kind === 'throwAfter' && inv !== undefined) this.probe(inv);
          throw e;
        }
      },
    };
  }

  private invoker(env: Env, functionName: string, invocationType: 'RequestResponse' | 'Event'): InvokerPort {
    return {
      functionName,
      invocationType,
      payloadFormat: 'confluent',
      invoke: async (batch, _deadline) => {
        await this.gate(env);
        const inv = env.current!;
        const records = batch.records.map((r) => this.byId.get(`${r.topic}|${r.partition}|${r.offset}`)!);
        const first = batch.records[0].offset;
        const last = batch.records[batch.records.length - 1].offset;
        const next = typeof last === 'number' ? last + 1 : (BigInt(last) + 1n).toString();
        const n = this.quiet ? 0 : this.target.next();
        this.now += 5;
        const failure = (message: string, outcome: 'failed' | 'unknown') =>
          new TargetInvocationError(
            message,
            batch.topic,
            batch.partition,
            first,
            next,
            { statusCode: 500, functionError: 'Unhandled', payload: '{"errorType":"Error","errorMessage":"failed"}' },
            outcome,
          );
        switch (n) {
          case 1:
            this.fault(inv, 'target error');
            for (const r of records) this.failedOnce.add(r.id);
            throw failure('the target answered with an error', 'failed');
          case 2:
            this.fault(inv, 'target throttled');
            for (const r of records) this.failedOnce.add(r.id);
            throw failure('TooManyRequestsException after retries', 'failed');
          case 3:
          case 4: {
            // The invocation was cut off without an answer; with 3 the target ran the records.
            this.now += 2_000;
            this.fault(inv, `target unknown outcome (${n === 3 ? 'ran' : 'did not run'})`);
            if (n === 3) for (const r of records) this.occur(r, 'run', inv, true);
            for (const r of records) this.failedOnce.add(r.id);
            inv.unknownRecords += records.length;
            throw failure('no answer before the deadline', 'unknown');
          }
          case 5:
            this.fault(inv, 'target hang');
            this.crash(inv);
            return new Promise(() => undefined);
          default:
            for (const r of records) this.occur(r, 'run', inv, false);
            return records.map((r) => resultOf(r, functionName));
        }
      },
    };
  }

  private relayPort(env: Env): RelayPort {
    const send = async (what: string, write: () => void) => {
      await this.gate(env);
      const inv = env.current;
      const n = this.quiet ? 0 : this.relay.next();
      this.now += 2;
      switch (n) {
        case 1:
          this.fault(inv, `relay ${what} failed`);
          throw new Error('relay failed: broker unreachable (injected)');
        case 2:
          write();
          this.fault(inv, `relay ${what} failed after writing`);
          throw new Error('relay failed after the broker took the records (injected)');
        case 3:
          if (inv !== undefined) {
            this.fault(inv, `relay ${what} hang`);
            this.crash(inv);
            await new Promise(() => undefined);
          }
          write();
          return;
        default:
          write();
      }
    };
    return {
      responseTopic: this.s.responses ? 'responses' : undefined,
      errorTopic: this.s.onError === 'log' ? 'errors' : undefined,
      sendResponses: (items, topic) =>
        send('responses', () => {
          for (const item of items) {
            const id = `${item.record.topic}|${item.record.partition}|${item.record.offset}`;
            if (topic === undefined) this.violation(`results of ${id} relayed without a response topic`);
            this.responses.set(id, [...(this.responses.get(id) ?? []), item.result]);
          }
        }),
      sendErrors: (items) =>
        send('errors', () => {
          for (const item of items) this.errorItem(item, env.current);
        }),
    } as RelayPort;
  }

  private errorItem(item: any, inv: Invocation | undefined): void {
    const truncated = item.truncated === true;
    const rawList: any[] = item.records ?? [];
    const start = item.startOffset;
    const end = item.endOffset;
    const p = this.records.findIndex((rs) => rs.length > 0 && String(rs[0].partition) === String(item.partition));
    if (p < 0) {
      this.violation(`error record for unknown partition ${item.partition}`);
      return;
    }
    for (const r of this.records[p]) {
      if (compare(r.offset, start) < 0 || compare(r.offset, end) >= 0) continue;
      const raw = rawList.find((x) => x !== null && String(x.offset ?? x.kinesis?.sequenceNumber) === String(r.offset));
      const bytes = raw !== undefined && (raw.value ?? raw.kinesis?.data) === (r.raw.value ?? r.raw.kinesis?.data);
      if (raw === undefined && !truncated) continue; // a range item may span records of other error items
      this.errorSink.set(r.id, [...(this.errorSink.get(r.id) ?? []), { truncated, bytes }]);
      if (inv !== undefined) this.occur(r, 'error', inv, item.outcome === 'unknown');
    }
  }

  private decoder(env: Env): SchemaDecoderPort {
    return {
      active: true,
      decode: async (records) => {
        await this.gate(env);
        const out = new Map<SourceRecord, Error>();
        const outage = !this.quiet && this.registry.next() === 1;
        if (outage) this.fault(env.current, 'schema registry unavailable');
        for (const r of records) {
          const info = this.byId.get(`${r.topic}|${r.partition}|${r.offset}`)!;
          if (info.plan.poison && this.s.path !== 'in-process')
            out.set(r, new SchemaDecodeError(r.topic, r.partition, r.offset, 'value', 'confluent:7', 'unknown magic byte 0x7b'));
          else if (outage)
            out.set(
              r,
              new SchemaRegistryUnavailableError(r.topic, r.partition, r.offset, 'value', 'confluent:7', 'connect ECONNREFUSED'),
            );
        }
        return out;
      },
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Invariants

  private checkLine(line: string, env: Env): void {
    for (const c of this.canaries) {
      if (line.includes(c)) this.violation(`record bytes in a log line of env ${env.n}: ${line.slice(0, 300)}`);
    }
  }

  private checkError(e: unknown, inv: Invocation): void {
    const texts: string[] = [];
    const walk = (x: unknown, depth: number) => {
      if (!(x instanceof Error) || depth > 3) return;
      texts.push(x.message, JSON.stringify(x));
      for (const f of (x as { failures?: unknown[] }).failures ?? []) walk(f, depth + 1);
      walk((x as { cause?: unknown }).cause, depth + 1);
    };
    walk(e, 0);
    for (const t of texts)
      for (const c of this.canaries)
        if (t.includes(c)) this.violation(`record bytes in an error thrown by inv ${inv.id}: ${t.slice(0, 300)}`);
  }

  /** A run of the target, or an error record, for one record. */
  private occur(r: RecordInfo, kind: 'run' | 'error', inv: Invocation, unknown: boolean): void {
    const seq = ++this.seq;
    const occurrence: Occurrence = { kind, seq, invocation: inv, unknown };
    const before = (this.occurrences.get(r.id) ?? []).filter((o) => o.kind === kind);
    if (kind === 'run') this.stats.effects++;
    else this.stats.errorWrites++;
    const confirmedAt = this.confirmed.get(r.id);
    const what = kind === 'run' ? 'run by the target' : 'written to the error topic';
    if (confirmedAt !== undefined && this.s.store === 'items' && inv.startedAt < confirmedAt) {
      // The batched per-key store holds nothing: an overlapping delivery that read the store before it was done.
      this.stats.repeatsOverlapItems++;
    } else if (confirmedAt !== undefined) {
      this.violation(
        `${r.id} (partition ${r.p}, record #${r.index}) ${what} again by inv ${inv.id} after the store said it was done (at ${confirmedAt})`,
      );
    } else if (before.length > 0) {
      this.stats.repeats++;
      for (const b of before) {
        if (b.unknown) {
          this.stats.repeatsUnknown++;
        } else if (this.s.store === 'items' && inv.startedAt < (b.invocation.endedAt ?? Infinity)) {
          // The batched per-key store holds nothing while it runs: two overlapping deliveries both run a record.
          this.stats.repeatsOverlapItems++;
        } else if (b.invocation.faults.some((f) => f > b.seq && f < seq) || (b.invocation !== inv && b.invocation.crashed)) {
          this.stats.repeatsAfterFault++;
        } else {
          this.violation(
            `${r.id} (partition ${r.p}, record #${r.index}) ${what} twice (inv ${b.invocation.id} at ${b.seq}, inv ${inv.id} at ${seq}) with no fault between`,
          );
        }
      }
    }
    this.occurrences.set(r.id, [...(this.occurrences.get(r.id) ?? []), occurrence]);
    this.note(`inv ${inv.id} ${kind} ${r.id}${unknown ? ' (unknown outcome)' : ''}`);
    inv.pending.push({ record: r, occurrence });
  }

  /** Asks the store, through its own API on a dry-run client, whether the invocation's pending records are done. */
  private probe(inv: Invocation): void {
    if (inv.pending.length === 0) return;
    const pending = inv.pending;
    const p = this.probeNow(pending.map((x) => x.record)).then((done) => {
      inv.pending = inv.pending.filter((x) => !done.has(x.record.id));
    });
    inv.probes.push(p);
  }

  private async probeNow(records: RecordInfo[]): Promise<Set<string>> {
    const client = this.db.dryRunClient();
    let readAt = 0;
    const reading = {
      send: (c: any) => {
        readAt = this.seq;
        return client.send(c);
      },
    };
    const done = new Set<string>();
    const entries = records.map((r) => ({ key: r.storeKey, record: this.sourceRecord(r) }));
    if (this.s.store === 'ranges') {
      const store = new DynamoDbRangeStore({
        client: reading as any,
        tableName: this.table,
        container: `probe-${this.run_}`,
        now: () => this.now,
        baseDelayMs: 0,
      });
      const session = await store.open(entries, this.now + 1);
      for (const r of records) {
        const c = session.done.get(r.storeKey);
        if (c !== undefined && !c.relayPending) done.add(r.id);
      }
      await session.close();
    } else {
      const store = new DynamoDbIdempotencyStore({ client: reading as any, tableName: this.table, baseDelayMs: 0 });
      const completed = await store.getCompleted(entries.map((e) => e.key));
      for (const r of records) {
        const c = completed.get(r.storeKey);
        if (c !== undefined && !c.relayPending) done.add(r.id);
      }
    }
    for (const id of done) if (!this.confirmed.has(id)) this.confirmed.set(id, readAt);
    return done;
  }

  private sourceRecord(r: RecordInfo): SourceRecord {
    if (r.source === undefined) {
      const event =
        this.s.source === 'kafka'
          ? { eventSource: 'SelfManagedKafka', records: { [`${r.topic}-${r.partition}`]: [r.raw] } }
          : { Records: [r.raw] };
      r.source = decodeSourceEvent(event).records[0];
    }
    return r.source;
  }

  /** Whether a record may be acknowledged now. */
  private acknowledgeable(r: RecordInfo): string | undefined {
    if (this.destination.has(r.id)) return undefined;
    const errors = this.errorSink.get(r.id) ?? [];
    if (errors.some((e) => e.bytes || e.truncated)) return undefined;
    if (this.s.onError === 'drop' && (r.plan.poison || this.failedOnce.has(r.id))) return undefined;
    const runs = (this.occurrences.get(r.id) ?? []).filter((o) => o.kind === 'run' && !o.unknown);
    if (runs.length === 0)
      return errors.length > 0 ? 'on the error topic without its bytes' : 'never run, not on the error topic';
    const responseTopic = this.responseTopicOf(r);
    if (responseTopic !== undefined) {
      const results = this.responses.get(r.id) ?? [];
      const expected = JSON.stringify(resultOf(r, this.functionOf(r)));
      if (!results.some((x) => JSON.stringify(x) === expected)) return `run, but its result is not on ${responseTopic}`;
    }
    return undefined;
  }

  private functionOf(r: RecordInfo): string {
    if (this.s.routes && r.plan.route === 1 && this.s.source === 'kafka') return 'route-a';
    if (this.s.routes && r.plan.route === 2) return 'route-b';
    return 'default';
  }

  private responseTopicOf(r: RecordInfo): string | undefined {
    const fn = this.functionOf(r);
    if (fn === 'route-a') return 'responses-a';
    if (fn === 'default' && this.s.responses) return 'responses';
    return undefined;
  }

  private acknowledge(p: number, upTo: number, inv: Invocation): void {
    const before = this.committed[p];
    if (upTo <= before) return;
    for (let i = before; i < upTo; i++) {
      const r = this.records[p][i];
      const why = this.acknowledgeable(r);
      if (why !== undefined) this.violation(`${r.id} (partition ${p}, record #${i}) acknowledged by inv ${inv.id} but ${why}`);
      this.stats.acks++;
    }
    this.committed[p] = upTo;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The mapping

  private event(parts: Array<{ p: number; from: number; to: number }>): any {
    if (this.s.source === 'kafka') {
      const records: Record<string, unknown[]> = {};
      for (const { p, from, to } of parts) records[`orders-${p}`] = this.records[p].slice(from, to).map((r) => r.raw);
      return { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records };
    }
    const { p, from, to } = parts[0];
    return { Records: this.records[p].slice(from, to).map((r) => r.raw) };
  }

  /** Starts one invocation in an environment; resolves with what the mapping saw. */
  private async invoke(env: Env, parts: Array<{ p: number; from: number; to: number }>): Promise<void> {
    const inv: Invocation = {
      id: ++this.invocationCounter,
      env,
      end: this.now + FUNCTION_TIMEOUT_MS,
      records: parts.flatMap(({ p, from, to }) => this.records[p].slice(from, to)),
      faults: [],
      crashed: false,
      pending: [],
      unknownRecords: 0,
      metrics: [],
      probes: [],
      startedAt: ++this.seq,
    };
    env.current = inv;
    this.stats.invocations++;
    this.note(`inv ${inv.id} env ${env.n} ${parts.map(({ p, from, to }) => `p${p}[${from},${to})`).join(' ')}`);
    const end = inv.end;
    const context = { getRemainingTimeInMillis: () => end - this.now, awsRequestId: `req-${inv.id}` };
    const outcome = await Promise.race([
      env.handle(this.event(parts), context).then(
        (response) => ({ response }),
        (error) => ({ error }),
      ),
      env.deadSignal,
    ]);
    // The store's last word on this invocation's records, once its own probes are in.
    await Promise.all(inv.probes);
    if (inv.pending.length > 0) {
      const done = await this.probeNow(inv.pending.map((x) => x.record));
      inv.pending = inv.pending.filter((x) => !done.has(x.record.id));
    }
    if (env.current === inv) env.current = undefined;
    inv.endedAt = ++this.seq;
    if (outcome === 'crashed') {
      this.note(`inv ${inv.id} crashed`);
      if (this.quiet) this.violation(`inv ${inv.id} crashed with no fault injected`);
      return;
    }
    this.checkMetrics(inv);
    if ('error' in outcome) {
      this.checkError(outcome.error, inv);
      this.note(`inv ${inv.id} threw ${(outcome.error as Error).name}: ${(outcome.error as Error).message.slice(0, 160)}`);
      if (this.quiet && !this.quietFailureAllowed(parts, undefined))
        this.violation(
          `after the faults stopped, inv ${inv.id} (env ${env.n}) failed: ${(outcome.error as Error).name}: ${(outcome.error as Error).message.slice(0, 200)}`,
        );
      if (this.quiet) this.toDestination(parts, undefined);
      return;
    }
    const failures: any[] = (outcome.response as any)?.batchItemFailures ?? [];
    const retryFrom = new Map<number, number>();
    for (const f of failures) {
      const id = f.itemIdentifier;
      const part =
        this.s.source === 'kafka' ? parts.find(({ p }) => typeof id === 'object' && id.partition === `orders-${p}`) : parts[0];
      const offset = this.s.source === 'kafka' ? id?.offset : id;
      const index =
        part === undefined
          ? -1
          : this.records[part.p].findIndex((r, i) => i >= part.from && i < part.to && String(r.offset) === String(offset));
      if (part === undefined || index < 0) {
        this.violation(`inv ${inv.id} answered a batch item failure that is not in its event: ${JSON.stringify(f)}`);
        continue;
      }
      retryFrom.set(part.p, Math.min(retryFrom.get(part.p) ?? Infinity, index));
    }
    this.note(`inv ${inv.id} answered ${JSON.stringify(failures).slice(0, 200)}`);
    if (this.quiet && failures.length > 0) {
      if (!this.quietFailureAllowed(parts, retryFrom))
        this.violation(
          `after the faults stopped, inv ${inv.id} (env ${env.n}) answered failures ${JSON.stringify(failures).slice(0, 200)}`,
        );
    }
    for (const { p, to } of parts) this.acknowledge(p, retryFrom.get(p) ?? to, inv);
    if (this.quiet && failures.length > 0) this.toDestination(parts, retryFrom);
  }

  private checkMetrics(inv: Invocation): void {
    const unknown = inv.metrics.reduce((n, m) => n + (Number(m.RecordsUnknownOutcome) || 0), 0);
    if (unknown < inv.unknownRecords)
      this.violation(
        `inv ${inv.id}: ${inv.unknownRecords} records had an unknown outcome, RecordsUnknownOutcome counted ${unknown}`,
      );
  }

  /** With FAIL, a poison record blocks its partition until the mapping's retries end. */
  private quietFailureAllowed(
    parts: Array<{ p: number; from: number; to: number }>,
    retryFrom: Map<number, number> | undefined,
  ): boolean {
    if (this.s.onError !== 'fail') return false;
    return (
      parts.some(({ p }) => {
        const i = retryFrom?.get(p) ?? this.committed[p];
        return (
          this.records[p][i]?.plan.poison === true ||
          (retryFrom === undefined && this.records[p].slice(this.committed[p]).some((r) => r.plan.poison))
        );
      }) &&
      (retryFrom === undefined || [...retryFrom].every(([p, i]) => this.records[p][i]?.plan.poison === true))
    );
  }

  /** The mapping's retries of a blocked batch ended: it goes to the on-failure destination (coordinates). */
  private toDestination(parts: Array<{ p: number; from: number; to: number }>, retryFrom: Map<number, number> | undefined): void {
    for (const { p, from, to } of parts) {
      if (retryFrom !== undefined && !retryFrom.has(p)) continue;
      const start = Math.max(this.committed[p], from);
      for (let i = start; i < to; i++) this.destination.add(this.records[p][i].id);
      this.stats.destination += Math.max(0, to - start);
      this.committed[p] = Math.max(this.committed[p], to);
    }
  }

  private pickEnv(n: number, busy: Set<Env>): Env {
    const live = this.envs.filter((e) => !e.dead && !busy.has(e));
    if (n < live.length) return live[n];
    if (this.envs.length < 8 || live.length === 0) return this.newEnv();
    return live[n % live.length];
  }

  async run(): Promise<SimulationResult> {
    // The faults' phase: the schedule's steps.
    for (const step of this.s.steps) {
      const busy = new Set<Env>();
      const runs: Promise<void>[] = [];
      const onShard = new Set<number>();
      for (const d of step.deliveries) {
        const parts: Array<{ p: number; from: number; to: number }> = [];
        for (const part of d.parts) {
          const p = part.p % this.records.length;
          if (parts.some((x) => x.p === p)) continue;
          if (this.s.source === 'kinesis' && (parts.length > 0 || onShard.has(p))) continue;
          const from = Math.max(0, this.committed[p] - part.back);
          const to = Math.min(this.records[p].length, from + part.size);
          if (from >= to) continue;
          parts.push({ p, from, to });
        }
        if (parts.length === 0) continue;
        for (const { p } of parts) onShard.add(p);
        const env = this.pickEnv(d.env, busy);
        busy.add(env);
        runs.push(this.invoke(env, parts));
      }
      await Promise.all(runs);
      this.now += step.advanceMs;
    }
    await this.quietPhase();
    return { violations: this.violations, stats: this.stats, trace: this.trace };
  }

  /**
   * No more faults: leases and held keys expire, then every live environment gets every partition (with a fresh
   * record on each, so that none is finished) and must succeed; then the partitions are delivered to the end.
   */
  private async quietPhase(): Promise<void> {
    this.quiet = true;
    this.now += FUNCTION_TIMEOUT_MS + TARGET_TIMEOUT_MS + 2 * TIME_MARGIN_MS;
    if (this.envs.every((e) => e.dead)) this.newEnv();
    const fresh: RecordPlan = { gap: 0, poison: false, big: false, route: 0 };
    for (const env of this.envs.filter((e) => !e.dead)) {
      for (let p = 0; p < this.records.length; p++)
        this.addRecord(
          p,
          fresh,
          Number(BigInt(this.records[p][this.records[p].length - 1].offset) - (this.s.source === 'kinesis' ? KINESIS_BASE : 0n)) +
            1,
        );
      if (this.s.source === 'kafka') {
        await this.invoke(
          env,
          this.records.map((rs, p) => ({ p, from: this.committed[p], to: rs.length })),
        );
      } else {
        for (let p = 0; p < this.records.length; p++)
          await this.invoke(env, [{ p, from: this.committed[p], to: this.records[p].length }]);
      }
    }
    for (let round = 0; round < 50 && this.committed.some((c, p) => c < this.records[p].length); round++) {
      const env = this.envs.filter((e) => !e.dead)[round % this.envs.filter((e) => !e.dead).length] ?? this.newEnv();
      for (let p = 0; p < this.records.length; p++) {
        if (this.committed[p] < this.records[p].length)
          await this.invoke(env, [{ p, from: this.committed[p], to: this.records[p].length }]);
      }
    }
    this.committed.forEach((c, p) => {
      if (c < this.records[p].length)
        this.violation(`partition ${p} never finished after the faults stopped: ${c} of ${this.records[p].length} acknowledged`);
    });
  }
}

function resultOf(r: RecordInfo, functionName: string): unknown {
  return r.plan.big ? { fn: functionName, n: r.index, pad: 'r'.repeat(MAX_RESULT_BYTES) } : { fn: functionName, n: r.index };
}

function compare(a: number | string, b: number | string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
