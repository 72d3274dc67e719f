/**
 * The in-process path of the Kafka ledger: the mapping triggers the user's own function (test/fixtures/targets/in-process,
 * `inProcessRecordHandler` with the runtime library from the layer), which runs the pipeline and the user's code in one
 * process. The user's code appends each record's effect, each record it throws at and each start of its module to an
 * effects log, which the ledger reads from outside the code under test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as te from '../testenv';
import type { FaultHits, Seen } from './accounting';
import type { LedgerRun } from './faults';
import { sleep, waitFor } from './observe';

const ROOT = path.join(__dirname, '..');

/** What these steps read of a Kafka run (kafka-scenarios.ts's KafkaRun, which has it). */
interface InProcessRun extends LedgerRun {
  readonly userCode?: () => UserCodeLog;
}

/** What these checks read of a Kafka run's end (kafka-scenarios.ts's KafkaEnd, which has it). */
interface InProcessEnd {
  readonly targetFailures: number;
  readonly userCode?: UserCodeLog;
}
/** The user's function: a handler folder with an index.js (and a package.json without a name). */
export const IN_PROCESS_FUNCTION = path.join(ROOT, 'test', 'fixtures', 'targets', 'in-process');
/** The runtime library as a Lambda layer, built by npm run build (on Lambda: /opt/nodejs/node_modules). */
export const RUNTIME_LAYER = path.join(ROOT, 'assets', 'runtime-layer', 'nodejs', 'node_modules');

/** A line of the effects log about one record: its coordinates, the process and when (epoch ms). */
export interface UserCodeLine {
  readonly partition: number;
  readonly offset: number;
  readonly pid: number;
  readonly at: number;
}

/** What the user's code logged. */
export interface UserCodeLog {
  /** Each start of its module: the process and the file `require('cdk-kafka-lambda/runtime')` resolved to. */
  readonly inits: readonly { readonly pid: number; readonly runtime: string }[];
  /** Each record's effect (a record applied again appears again). */
  readonly effects: readonly UserCodeLine[];
  /** Each record the user's code threw at, failing its call. */
  readonly threw: readonly UserCodeLine[];
}

/** The user's function's environment beyond the dispatcher's: the layer where Lambda puts it, and the effects log. */
export const inProcessEnv = (effectsFile: string): Record<string, string> => ({
  NODE_PATH: RUNTIME_LAYER,
  EFFECTS_FILE: effectsFile,
});

/** The effects log so far; a line still being written (no newline yet) is left for the next read. */
export function readUserCodeLog(file: string): UserCodeLog {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
  const of = (kind: string) => lines.filter((l) => l.kind === kind);
  return { inits: of('init'), effects: of('effect'), threw: of('threw') };
}

/** The records of a mapping's event, as "partition@offset". */
function eventRecords(inv: te.InvocationRecord): Set<string> {
  const event = JSON.parse(inv.payload);
  return new Set(
    Object.values<any[]>(event.records ?? {})
      .flat()
      .map((r) => `${r.partition}@${r.offset}`),
  );
}

/** The user's code applied some, not all, of the invocation's records after it started and before `until`. */
export function midBatch(inv: te.InvocationRecord, effects: readonly UserCodeLine[], until: number): boolean {
  const records = eventRecords(inv);
  const applied = new Set(
    effects
      .filter((e) => e.at >= inv.at && e.at <= until)
      .map((e) => `${e.partition}@${e.offset}`)
      .filter((at) => records.has(at)),
  );
  return applied.size > 0 && applied.size < records.size;
}

/**
 * Kills the in-process function's processes once an invocation in flight has had some of its records applied by the
 * user's code, then lets "Lambda" start a new sandbox. Counts the invocations the kill cut off mid-batch.
 */
export async function killInProcessMidBatch(run: InProcessRun): Promise<Seen> {
  const atWork = async () =>
    (await te.listInvocations(run.dispatcherName, run.env))
      .filter((i) => i.doneAt === undefined)
      .some((i) => midBatch(i, run.userCode!().effects, Date.now()));
  await waitFor("the user's code in the middle of an invocation", async () => (await atWork()) || run.done(), 30_000);
  await run.stopDispatcher();
  const killedAt = Date.now();
  const killed = (await te.listInvocations(run.dispatcherName, run.env)).filter((i) => i.killed);
  const cut = killed.filter((i) => midBatch(i, run.userCode!().effects, killedAt)).length;
  await sleep(1_000);
  await run.startDispatcher();
  return { cut };
}

export const KILLED_MID_BATCH: FaultHits<InProcessEnd> = {
  counted:
    "invocations of the in-process function the Lambda front saw cut off after the user's code had applied some, not all, of their records (its effects log)",
  count: (_end, seen) => seen.cut,
};

export const USER_CODE_THREW: FaultHits<InProcessEnd> = {
  counted: "calls the user's code failed (it logs each record it throws at)",
  count: (end) => end.targetFailures,
};

/** Every start of the user's function loaded the runtime library from the layer (not from the repository). */
export function runtimeFromLayer(_run: InProcessRun, end: InProcessEnd): void {
  const inits = end.userCode?.inits ?? [];
  const layer = fs.realpathSync(RUNTIME_LAYER) + path.sep;
  const elsewhere = inits.filter((i) => !fs.realpathSync(i.runtime).startsWith(layer));
  if (inits.length === 0 || elsewhere.length > 0)
    throw new Error(
      `the user's function must load cdk-kafka-lambda/runtime from the layer ${layer}; its starts loaded ${JSON.stringify(inits.map((i) => i.runtime))}`,
    );
}
