/** Fault steps and hit counts both fault ledgers (Kafka, Kinesis) use. */
import * as te from '../testenv';
import type { FaultHits, Seen } from './accounting';
import { sleep, waitForInFlight } from './observe';

/** A running scenario, as the fault steps both ledgers share see it. */
export interface LedgerRun {
  readonly env: te.TestEnv;
  /** The target functions (the first takes what no route takes). */
  readonly targets: readonly string[];
  readonly dispatcherName: string;
  /** Every record through the mapping. */
  done(): boolean;
  /** Stops the dispatcher's sandbox, killing what runs in it. */
  stopDispatcher(): Promise<void>;
  /** Starts a new sandbox of the dispatcher, as Lambda does for the next invocation. */
  startDispatcher(): Promise<void>;
}

/** The Lambda front's answers, as both ledgers' ends hold them. */
export interface LambdaEnds {
  readonly target: te.LambdaStats;
  readonly dispatcher: te.LambdaStats;
}

/** Stops a service of the environment for 2 s, then starts it again. */
export async function restartService(service: te.ServiceName, env: te.TestEnv): Promise<void> {
  await te.stopService(service, env);
  await sleep(2_000);
  await te.startService(service, env);
}

/** The Lambda front answers the next 30 calls of targets[i] with TooManyRequestsException. */
export const throttleTarget =
  (i: number) =>
  async (run: LedgerRun): Promise<Seen> => {
    await te.throttleLambda(run.targets[i], 30, run.env);
    return {};
  };

/** Kills the dispatcher while a batch is in flight at the target, then lets "Lambda" start a new sandbox. */
export async function killDispatcherInFlight(run: LedgerRun): Promise<Seen> {
  await waitForInFlight('target', run.targets, run.env, run.done);
  await run.stopDispatcher();
  await sleep(1_000);
  await run.startDispatcher();
  return {};
}

export const TARGET_THROTTLED: FaultHits<LambdaEnds> = {
  counted: 'TooManyRequestsException answers of the Lambda front',
  count: (end) => end.target.throttled,
};
export const DISPATCHER_KILLED: FaultHits<LambdaEnds> = {
  counted: 'invocations in flight when the dispatcher was killed',
  count: (end) => end.dispatcher.killedInFlight,
};
