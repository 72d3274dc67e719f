/**
 * The Kinesis fault ledger's scenarios as data: what each sets up (its environment, records, target and mapping), the
 * fault it injects once a third of the records are committed, and how the fault's hits on work in flight are counted
 * outside the mapping and the dispatcher. kinesis-ledger.ts runs them.
 */
import * as te from '../testenv';
import type { LocalKinesisEventSourceMapping } from '../cli/kinesis/esm';
import { FaultHits, Seen } from './accounting';
import { waitForInFlight } from './observe';
import {
  DISPATCHER_KILLED,
  killDispatcherInFlight,
  LambdaEnds,
  LedgerRun,
  restartService,
  TARGET_THROTTLED,
  throttleTarget,
} from './faults';

export const KINESIS_SCENARIOS = [
  'kinesis-steady',
  'kinesis-poison-bisect',
  'kinesis-target-throttling',
  'kinesis-dispatcher-killed',
  'kinesis-emulator-restart',
  'kinesis-dynamodb-restart',
] as const;
export type KinesisScenario = (typeof KINESIS_SCENARIOS)[number];

/** A running Kinesis scenario, as its fault steps and checks see it. */
export interface KinesisRun extends LedgerRun {
  /** The mapping now running (a new one after a restart). */
  readonly mapping: LocalKinesisEventSourceMapping;
  /** Kills the mapping like a crashed process; the checkpoints it left and when, for the checks. */
  killMapping(): Promise<void>;
  /** Starts a new mapping on the same checkpoint file. */
  startMapping(): Promise<void>;
  /** Set by killMapping: each shard's checkpointed sequence number when the mapping was killed, and when. */
  killed?: { readonly checkpoints: Readonly<Record<string, string>>; readonly at: number };
}

/** What the run's ends hold once every shard is checkpointed at its last record. */
export interface KinesisEnd extends LambdaEnds {
  /** The target's invocations, as the Lambda front recorded them. */
  readonly invocations: te.InvocationRecord[];
  readonly targetFailures: number;
  readonly dispatcherCalls: te.InvocationRecord[];
}

export interface KinesisScenarioSetup {
  /**
   * Its own Kafka, DynamoDB Local, moto and Lambda front (stopped by a watchdog if this process dies): for faults that
   * stop a service, so that suites using the shared environment are never disturbed.
   * @default - the shared environment
   */
  readonly environment?: Record<string, never>;
  /** 'poison' marks every POISON_EVERY-th record (and record 1). @default - none */
  readonly records?: 'poison';
  /** The echo target's environment. */
  readonly target?: { readonly env?: Record<string, string> };
  readonly mapping?: {
    /**
     * Partial batch responses from the dispatcher, as KinesisTrigger deploys it; false: a function error, so the
     * mapping bisects.
     * @default true
     */
    readonly reportBatchItemFailures?: boolean;
    /** @default -1 (until the records expire) */
    readonly retryAttempts?: number;
  };
  /** The fault, injected once a third of the records are committed; it returns what it saw, for faultHits. */
  readonly fault?: (run: KinesisRun) => Promise<Seen>;
  /** @default - no hits counted ('none') */
  readonly faultHits?: FaultHits<KinesisEnd>;
  /** Checks on the run's ends beyond the accounting; each throws what went wrong. */
  readonly checks?: readonly ((run: KinesisRun, end: KinesisEnd) => void)[];
}

// The fault steps.

/** Kills the mapping like a crashed process while the dispatcher is at work, then starts it again on the same checkpoint file. */
async function killMappingInFlight(run: KinesisRun): Promise<Seen> {
  await waitForInFlight('dispatcher', [run.dispatcherName], run.env, run.done);
  const killedAt = Date.now();
  await run.killMapping();
  const caught = (await te.listInvocations(run.dispatcherName, run.env)).filter(
    (i) => i.at < killedAt && (i.doneAt === undefined || i.doneAt > killedAt),
  ).length;
  await run.startMapping();
  return { caught };
}

/** Restarts DynamoDB Local while a target call is in flight. */
async function restartDynamoDbWhileTargetRuns(run: KinesisRun): Promise<Seen> {
  await waitForInFlight('target', run.targets, run.env, run.done);
  const stoppedAt = Date.now();
  await restartService('dynamodb', run.env);
  return { stoppedAt };
}

// How the hits are counted.

/** A dispatcher invocation that failed or reported failed records. */
const failedOrPartial = (i: te.InvocationRecord) => !!i.functionError || /"batchItemFailures":\[\{/.test(i.response ?? '');

// The checks.

/** A restart resumes: nothing the killed mapping had checkpointed reaches the dispatcher again. */
function noCheckpointedReplay(run: KinesisRun, end: KinesisEnd): void {
  const killed = run.killed;
  if (!killed) return;
  const replayed = end.dispatcherCalls
    .filter((i) => i.at >= killed.at)
    .flatMap((i) => JSON.parse(i.payload).Records as any[])
    .filter((r) => {
      const c = killed.checkpoints[r.eventID.split(':')[0]];
      return c !== undefined && BigInt(r.kinesis.sequenceNumber) <= BigInt(c);
    });
  if (replayed.length)
    throw new Error(
      `kinesis-emulator-restart: ${replayed.length} checkpointed record(s) delivered again after the restart, e.g. ${replayed[0].eventID}`,
    );
}

/** Each partition key's records reach the target in order. */
const inKeyOrder =
  (scenario: KinesisScenario) =>
  (_run: KinesisRun, end: KinesisEnd): void => {
    const unordered = outOfKeyOrder(end.invocations);
    if (unordered.length) throw new Error(`${scenario}: ${unordered.slice(0, 5).join('; ')}`);
  };

/**
 * A partition key's records reaching the target out of sequence order (with ParallelizationFactor > 1 only a key's
 * records keep their order); a record seen again after a retry is not counted again.
 */
function outOfKeyOrder(invocations: te.InvocationRecord[]): string[] {
  const wrong: string[] = [];
  const seen = new Set<string>();
  const lastOfKey = new Map<string, bigint>();
  for (const inv of [...invocations].sort((a, b) => a.at - b.at)) {
    for (const { payload: p } of JSON.parse(inv.payload) as any[]) {
      if (seen.has(`${p.partition}:${p.offset}`)) continue;
      seen.add(`${p.partition}:${p.offset}`);
      const key = JSON.stringify(p.key);
      const seq = BigInt(p.offset);
      if ((lastOfKey.get(key) ?? -1n) > seq) wrong.push(`key ${key}: ${p.partition}@${p.offset} after ${lastOfKey.get(key)}`);
      lastOfKey.set(key, seq);
    }
  }
  return wrong;
}

/** Target calls that last, so the fault finds one in flight. */
const SLOW_TARGET = { env: { DELAY_MS: '300' } };

export const KINESIS_SCENARIO_SETUPS: Record<KinesisScenario, KinesisScenarioSetup> = {
  'kinesis-steady': { checks: [inKeyOrder('kinesis-steady')] },
  'kinesis-poison-bisect': {
    records: 'poison',
    target: { env: { POISON: '1' } },
    mapping: { reportBatchItemFailures: false, retryAttempts: 2 },
    faultHits: {
      counted: 'target invocations that failed, as the Lambda front answered them',
      count: (end) => end.targetFailures,
    },
  },
  'kinesis-target-throttling': {
    fault: throttleTarget(0),
    faultHits: TARGET_THROTTLED,
    checks: [inKeyOrder('kinesis-target-throttling')],
  },
  'kinesis-dispatcher-killed': {
    target: SLOW_TARGET,
    fault: killDispatcherInFlight,
    faultHits: DISPATCHER_KILLED,
    checks: [inKeyOrder('kinesis-dispatcher-killed')],
  },
  'kinesis-emulator-restart': {
    target: SLOW_TARGET,
    fault: killMappingInFlight,
    faultHits: {
      counted: 'dispatcher invocations in flight when the mapping was killed (their answers were dropped)',
      count: (_end, seen) => seen.caught,
    },
    checks: [noCheckpointedReplay, inKeyOrder('kinesis-emulator-restart')],
  },
  'kinesis-dynamodb-restart': {
    environment: {},
    target: SLOW_TARGET,
    fault: restartDynamoDbWhileTargetRuns,
    faultHits: {
      counted: "dispatcher invocations from the outage on that failed or reported failed records (the Lambda front's answers)",
      count: (end, seen) =>
        end.dispatcherCalls.filter((i) => (i.doneAt ?? Infinity) >= seen.stoppedAt && failedOrPartial(i)).length,
    },
    checks: [inKeyOrder('kinesis-dynamodb-restart')],
  },
};
