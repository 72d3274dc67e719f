/**
 * The Kafka fault ledger's scenarios as data: what each sets up (its environment, records, target, dispatcher and
 * mapping), the fault it injects once a third of the records are committed, and how the fault's hits on work in flight
 * are counted outside the dispatcher. The in-process scenarios repeat some of them on the in-process path (the
 * mapping triggers the user's own function, which runs the pipeline and the user's code in one process).
 * kafka-ledger.ts runs them.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigResourceTypes, Kafka } from 'kafkajs';
import * as te from '../testenv';
import type { LocalEsmStats } from '../cli/kafka/esm';
import { FaultHits, overlappingRuns, Seen } from './accounting';
import { TARGET_BATCH } from './workload';
import { sleep, waitForInFlight } from './observe';
import {
  DISPATCHER_KILLED,
  killDispatcherInFlight,
  LambdaEnds,
  LedgerRun,
  restartService,
  TARGET_THROTTLED,
  throttleTarget,
} from './faults';
import { KILLED_MID_BATCH, killInProcessMidBatch, runtimeFromLayer, USER_CODE_THREW, UserCodeLog } from './in-process';

/** The Kafka scenarios; each can be run by name with `npm run e2e -- NAME`. */
export const KAFKA_SCENARIOS = [
  'baseline',
  'broker-restart',
  'dynamodb-restart',
  'target-throttling',
  'target-timeout',
  'poison-log',
  'poison-fail',
  'scram-rotation',
  'dispatcher-killed',
  'large-result-relay-outage',
  'decode-poison-log',
  'shared-key-poison',
  'strict-target-timeout',
  'dynamodb-outage-after-invoke',
  'routing-target-throttling',
  'in-process-steady',
  'in-process-target-errors',
  'in-process-dynamodb-restart',
  'in-process-relay-outage',
  'in-process-crash',
] as const;
export type KafkaScenario = (typeof KAFKA_SCENARIOS)[number];
type InProcessScenario = Extract<KafkaScenario, `in-process-${string}`>;
type DispatcherScenario = Exclude<KafkaScenario, InProcessScenario>;

/** The scenario each in-process scenario repeats on the in-process path: its records, the user's code, fault and checks. */
export const IN_PROCESS_REPEATS: Readonly<Record<InProcessScenario, DispatcherScenario>> = {
  'in-process-steady': 'baseline',
  'in-process-target-errors': 'poison-log',
  'in-process-dynamodb-restart': 'dynamodb-restart',
  'in-process-relay-outage': 'large-result-relay-outage',
  'in-process-crash': 'dispatcher-killed',
};

/** The scenario whose expectations a scenario shares: the one it repeats in process, else itself. */
export const expectationsOf = (scenario: KafkaScenario): DispatcherScenario =>
  (IN_PROCESS_REPEATS as Record<string, DispatcherScenario>)[scenario] ?? (scenario as DispatcherScenario);

/** In large-result-relay-outage every LARGE_EVERY-th record's result is 70 KB-900 KB. */
export const LARGE_EVERY = 20;
/** The broker re-authenticates SASL sessions this often in scram-rotation. */
const REAUTH_MS = 15_000;
/** The dispatcher's timeout in strict-target-timeout, shorter than its slow target calls. */
const STRICT_DISPATCHER_TIMEOUT = 6;
/** With a routed target, record n carries the header route=a (n % 3 == 0), route=b (1), or none (2: the default target). */
export const ROUTE_OF = ['a', 'b', undefined] as const;

/** A running Kafka scenario, as its fault steps and checks see it. */
export interface KafkaRun extends LedgerRun {
  readonly kafka: Kafka;
  readonly secrets: SecretsManagerClient;
  readonly responseTopic: string;
  /** The broker user the relay signs in as, and the secret holding its password. */
  readonly scramUser: te.UserPassword;
  readonly scramSecretArn: string;
  /** The mapping's counts (live). */
  readonly stats: LocalEsmStats;
  /** The relay's Secrets Manager reads so far, as a proxy in front of moto counted them. */
  secretReads(): number;
  /** On the in-process path: what the user's code has logged so far (its effects log). */
  readonly userCode?: () => UserCodeLog;
}

/** An error topic record: its key's range, the records it keeps and the error it names. */
export interface ErrorRecord {
  partition: number;
  startOffset: number;
  endOffset: number;
  records?: any[];
  functionError: string;
}

/** What the run's ends hold once every record is committed. */
export interface KafkaEnd extends LambdaEnds {
  readonly stats: LocalEsmStats;
  readonly routeTargets: te.LambdaStats[];
  /** Every target's invocations, as the Lambda front recorded them. */
  readonly invocations: te.InvocationRecord[];
  readonly targetFailures: number;
  readonly errors: ErrorRecord[];
  readonly secretReads: number;
  /** Records the proxy in front of the dispatcher spoiled in the mapping's events. */
  readonly spoiled: number;
  /** On the in-process path: the user's code's effects log (its effects are the deliveries; there is no target function). */
  readonly userCode?: UserCodeLog;
}

export interface KafkaScenarioSetup {
  /**
   * 'in-process': the mapping triggers the user's own function (test/fixtures/targets/in-process, inProcessRecordHandler
   * from the runtime layer), which runs the pipeline and the user's code in one process: `target` configures the user's
   * code there; the function has the dispatcher's name, timeout and fault steps.
   * @default 'dispatcher' - the dispatcher bundle invoking the echo target function
   */
  readonly path?: 'dispatcher' | 'in-process';
  /**
   * Its own Kafka, DynamoDB Local, moto and Lambda front (stopped by a watchdog if this process dies), with these
   * broker properties: for faults that stop a service or change the broker's settings, so that suites using the shared
   * environment are never disturbed.
   * @default - the shared environment
   */
  readonly environment?: { readonly kafkaProperties?: Record<string, string> };
  /**
   * Marks on the record values: 'poison' on every POISON_EVERY-th record (and record 1); 'shared-key-poison' gives
   * record n and n + N/2 one id, and marks both when n is a poison number.
   * @default - none
   */
  readonly records?: 'poison' | 'shared-key-poison';
  readonly target?: {
    /** The echo target's environment, from the record count. */
    readonly env?: (n: number) => Record<string, string>;
    /** @default 30 */
    readonly timeoutSeconds?: number;
    readonly concurrency?: number;
    /** Two more targets, chosen by the record's route header (ROUTE_OF); the records carry the headers. */
    readonly routed?: boolean;
  };
  readonly dispatcher?: {
    /** @default 30 */
    readonly timeoutSeconds?: number;
    /** @default 'fail' */
    readonly onError?: 'log' | 'fail';
    /** @default 'batched' */
    readonly mode?: 'strict' | 'batched';
    readonly keyPointer?: string;
  };
  readonly mapping?: {
    /** @default - AWS's Kafka default: retries until the records expire */
    readonly retryAttempts?: number;
    readonly bisectBatchOnFunctionError?: boolean;
    /** The mapping's events pass a proxy that spoils each poison record's timestamp (its bytes stay). */
    readonly spoilPoison?: boolean;
  };
  /** The fault, injected once a third of the records are committed; it returns what it saw, for faultHits. */
  readonly fault?: (run: KafkaRun) => Promise<Seen>;
  /** @default - no hits counted ('none') */
  readonly faultHits?: FaultHits<KafkaEnd>;
  /** Checks on the run's ends beyond the accounting; each throws what went wrong. */
  readonly checks?: readonly ((run: KafkaRun, end: KafkaEnd) => Promise<void> | void)[];
}

// The fault steps.

/** Stops the broker for 2 s while the dispatcher is at work: its relay and the mapping's consumer lose the broker. */
async function restartBrokerUnderDispatcher(run: KafkaRun): Promise<Seen> {
  await waitForInFlight('dispatcher', [run.dispatcherName], run.env, run.done);
  const incidents = mappingIncidents(run.stats);
  const down = Date.now();
  await restartService('kafka', run.env);
  const up = Date.now();
  const caught = (await te.listInvocations(run.dispatcherName, run.env)).filter(
    (i) => i.at < up && (i.doneAt === undefined || i.doneAt > down),
  ).length;
  return { caught, incidents };
}

/** Crashes, failed invocations and group rejoins the mapping has seen. */
const mappingIncidents = (s: LocalEsmStats) => s.consumerCrashes + s.failedInvocations + s.groupJoins;

async function restartDynamoDb(run: KafkaRun): Promise<Seen> {
  const failed = run.stats.failedInvocations;
  await restartService('dynamodb', run.env);
  return { failed };
}

/** Stops DynamoDB Local for 2 s while a target call is in flight: its answer comes while the store is down. */
async function stopDynamoDbWhileTargetAnswers(run: KafkaRun): Promise<Seen> {
  await waitForInFlight('target', run.targets, run.env, run.done);
  const stoppedAt = Date.now();
  await te.stopService('dynamodb', run.env);
  const restartAt = Date.now();
  await sleep(2_000);
  await te.startService('dynamodb', run.env);
  const calls = (await Promise.all(run.targets.map((name) => te.listInvocations(name, run.env)))).flat();
  return {
    answered: calls.filter((i) => i.doneAt !== undefined && i.doneAt >= stoppedAt && i.doneAt <= restartAt + 2_000).length,
  };
}

/** Rotates the relay user's password on the broker and in its secret. */
async function rotateScramPassword(run: KafkaRun): Promise<Seen> {
  const reads = run.secretReads();
  const password = randomUUID();
  await te.setScramPassword({ username: run.scramUser.username, password, mechanism: 'SCRAM-SHA-512' }, run.env);
  await run.secrets.send(
    new PutSecretValueCommand({ SecretId: run.scramSecretArn, SecretString: JSON.stringify({ ...run.scramUser, password }) }),
  );
  return { reads };
}

/** The response topic refuses every write for 5 s (its max.message.bytes set below any result), then takes them again. */
async function refuseResponseTopicWrites(run: KafkaRun): Promise<Seen> {
  const failed = run.stats.failedInvocations;
  const admin = run.kafka.admin();
  await admin.connect();
  const set = (bytes: string) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: run.responseTopic,
          configEntries: [{ name: 'max.message.bytes', value: bytes }],
        },
      ],
    });
  await set('256');
  await sleep(5_000);
  await set('1048588');
  await admin.disconnect();
  return { failed };
}

// How the hits are counted.

const targetFailures: FaultHits<KafkaEnd> = {
  counted: 'target invocations that failed or timed out, as the Lambda front answered them',
  count: (end) => end.targetFailures,
};
const failedDispatcherInvocations = (counted: string): FaultHits<KafkaEnd> => ({
  counted,
  count: (end, seen) => end.stats.failedInvocations - seen.failed,
});
/** Target runs that lasted longer than the strict dispatcher waits for them. */
const outlastedDispatcher = (end: KafkaEnd) =>
  end.invocations.filter((i) => i.doneAt !== undefined && i.doneAt - i.at > (STRICT_DISPATCHER_TIMEOUT - 1) * 1000).length;

// The checks.

/** Strict idempotency: no record runs twice at once. */
function noOverlappingRuns(_run: KafkaRun, end: KafkaEnd): void {
  const coordinates = (inv: te.InvocationRecord) =>
    (JSON.parse(inv.payload) as any[]).map((e) => `${e.payload.partition}@${e.payload.offset}`);
  const overlaps = overlappingRuns(end.invocations.map((inv) => ({ at: inv.at, doneAt: inv.doneAt, records: coordinates(inv) })));
  if (overlaps > 0) throw new Error(`strict-target-timeout: ${overlaps} record(s) ran twice at once`);
}

async function routedInOrder(run: KafkaRun): Promise<void> {
  const wrong = await misroutedOrUnordered(run.targets, (name) => te.listInvocations(name, run.env));
  if (wrong.length > 0) throw new Error(`routing-target-throttling: ${wrong.slice(0, 5).join('; ')}`);
}

/**
 * What routing got wrong, as each target's invocations show it: a record at a target its header does not name
 * (targets[0] takes those without a route header), or a partition's records reaching a target out of offset order
 * (a record seen again after a retry is not counted again).
 */
async function misroutedOrUnordered(
  targets: readonly string[],
  invocationsOf: (name: string) => Promise<te.InvocationRecord[]>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const [t, name] of targets.entries()) {
    const seen = new Set<string>();
    const last = new Map<number, number>();
    for (const inv of (await invocationsOf(name)).sort((a, b) => a.at - b.at)) {
      for (const { payload: p } of JSON.parse(inv.payload) as any[]) {
        const expected = [1, 2, 0][p.value.n % 3]; // route=a, route=b, the default target
        if (expected !== t) wrong.push(`record ${p.value.n} at ${name}`);
        const at = `${p.partition}@${p.offset}`;
        if (seen.has(at)) continue;
        seen.add(at);
        if ((last.get(p.partition) ?? -1) > p.offset)
          wrong.push(`${name}: partition ${p.partition} offset ${p.offset} after ${last.get(p.partition)}`);
        last.set(p.partition, p.offset);
      }
    }
  }
  return wrong;
}

const POISON_TARGET = { env: () => ({ POISON: '1' }) };
/** Target calls that last, so the fault finds one in flight. */
const SLOW_TARGET = { env: () => ({ DELAY_MS: '300' }) };

const DISPATCHER_SCENARIO_SETUPS: Record<DispatcherScenario, KafkaScenarioSetup> = {
  baseline: {},
  'broker-restart': {
    environment: {},
    fault: restartBrokerUnderDispatcher,
    faultHits: {
      counted:
        'dispatcher invocations running while the broker was down, and the crashes, failed invocations and group rejoins the mapping saw',
      count: (end, seen) => seen.caught + mappingIncidents(end.stats) - seen.incidents,
    },
  },
  'dynamodb-restart': {
    environment: {},
    fault: restartDynamoDb,
    faultHits: failedDispatcherInvocations('failed dispatcher invocations the mapping saw'),
  },
  'target-throttling': {
    fault: throttleTarget(0),
    faultHits: TARGET_THROTTLED,
  },
  'target-timeout': {
    target: { env: () => ({ SLOW_EVERY: '15', SLOW_MS: '3000' }), timeoutSeconds: 1 },
    faultHits: targetFailures,
  },
  'poison-log': { records: 'poison', target: POISON_TARGET, dispatcher: { onError: 'log' }, faultHits: targetFailures },
  // AWS's Kafka default retries until the records expire; poison-fail bounds it to reach the destination.
  'poison-fail': {
    records: 'poison',
    target: POISON_TARGET,
    mapping: { retryAttempts: 2, bisectBatchOnFunctionError: true },
    faultHits: targetFailures,
  },
  'scram-rotation': {
    environment: { kafkaProperties: { 'connections.max.reauth.ms': String(REAUTH_MS) } },
    // The records after the rotation take about 25 s, longer than a SASL session (REAUTH_MS): the relay must
    // re-authenticate with the rotated password while work is in flight.
    target: { env: (n) => ({ DELAY_MS: String(Math.round(25_000 / ((2 / 3) * (n / TARGET_BATCH)))) }) },
    fault: rotateScramPassword,
    faultHits: {
      counted: 'Secrets Manager reads of the relay after the rotation (the broker ends SASL sessions after 15 s)',
      count: (end, seen) => end.secretReads - seen.reads,
    },
  },
  'dispatcher-killed': {
    target: SLOW_TARGET,
    fault: killDispatcherInFlight,
    faultHits: DISPATCHER_KILLED,
  },
  'large-result-relay-outage': {
    target: { env: () => ({ LARGE_EVERY: String(LARGE_EVERY) }) },
    fault: refuseResponseTopicWrites,
    faultHits: failedDispatcherInvocations(
      'failed dispatcher invocations the mapping saw while the response topic refused writes',
    ),
  },
  'decode-poison-log': {
    records: 'poison',
    dispatcher: { onError: 'log' },
    mapping: { spoilPoison: true },
    faultHits: { counted: "records the proxy spoiled in the mapping's events", count: (end) => end.spoiled },
  },
  'shared-key-poison': {
    records: 'shared-key-poison',
    target: POISON_TARGET,
    dispatcher: { onError: 'log', keyPointer: '/id' },
    faultHits: {
      counted: 'error records of records that shared their key with a failed record',
      count: (end) => end.errors.filter((e) => e.functionError === 'SharedKeyFailedError').length,
    },
  },
  'strict-target-timeout': {
    // Some calls last longer than the dispatcher has left (6 s), shorter than the target's own timeout (10 s).
    target: {
      env: (n) => ({ SLOW_EVERY: String(Math.max(3, Math.round(n / 400))), SLOW_MS: '8000' }),
      timeoutSeconds: 10,
      concurrency: 2,
    },
    dispatcher: { timeoutSeconds: STRICT_DISPATCHER_TIMEOUT, mode: 'strict' },
    faultHits: {
      counted: "target runs that outlasted the dispatcher's wait (the Lambda front's start and end times)",
      count: outlastedDispatcher,
    },
    checks: [noOverlappingRuns],
  },
  'dynamodb-outage-after-invoke': {
    environment: {},
    target: SLOW_TARGET,
    fault: stopDynamoDbWhileTargetAnswers,
    faultHits: { counted: 'target invocations answered while DynamoDB Local was down', count: (_end, seen) => seen.answered },
  },
  'routing-target-throttling': {
    target: { routed: true },
    fault: throttleTarget(2),
    faultHits: {
      counted: 'TooManyRequestsException answers of the Lambda front to the route=b target',
      count: (end) => end.routeTargets[1].throttled,
    },
    checks: [routedInOrder],
  },
};

/** A scenario again on the in-process path, with what differs there. */
const inProcess = (repeats: DispatcherScenario, changes: KafkaScenarioSetup = {}): KafkaScenarioSetup => {
  const base = DISPATCHER_SCENARIO_SETUPS[repeats];
  return { ...base, ...changes, path: 'in-process', checks: [...(base.checks ?? []), runtimeFromLayer] };
};

export const KAFKA_SCENARIO_SETUPS: Record<KafkaScenario, KafkaScenarioSetup> = {
  ...DISPATCHER_SCENARIO_SETUPS,
  'in-process-steady': inProcess('baseline'),
  'in-process-target-errors': inProcess('poison-log', { faultHits: USER_CODE_THREW }),
  'in-process-dynamodb-restart': inProcess('dynamodb-restart', {
    faultHits: failedDispatcherInvocations('failed invocations of the in-process function the mapping saw'),
  }),
  'in-process-relay-outage': inProcess('large-result-relay-outage', {
    faultHits: failedDispatcherInvocations(
      'failed invocations of the in-process function the mapping saw while the response topic refused writes',
    ),
  }),
  // The user's code takes 12 ms a record (the 300 ms of a call of 25 spread over its records), so the kill lands between
  // records of a call: some of its records applied, their results not stored yet.
  'in-process-crash': inProcess('dispatcher-killed', {
    target: { env: () => ({ RECORD_DELAY_MS: '12' }) },
    fault: killInProcessMidBatch,
    faultHits: KILLED_MID_BATCH,
  }),
};
