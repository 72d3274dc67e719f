/**
 * The fault ledger's accounting: what a scenario observed at the pipeline's ends, counted by source coordinates,
 * and the ledger line it prints.
 */

export interface Ledger {
  scenario: string;
  produced: number;
  responded: number;
  errored: number;
  failedDest: number;
  lost: number;
  extraInvocations: number;
  /**
   * Target invocations that timed out or failed (context for the bound on extra invocations); in process, calls the
   * user's code failed.
   */
  failedTargetInvocations: number;
  /** How often the fault hit work in flight, counted outside the dispatcher (see faultCounted). */
  faultHits: number;
  /** What faultHits counts. */
  faultCounted: string;
  /** Dispatcher log lines holding the canary (record bytes): must be 0. */
  canaryInLogs: number;
  seconds: number;
}

export const formatLedger = (l: Ledger) =>
  `scenario=${l.scenario} produced=${l.produced} responded=${l.responded} errored=${l.errored} failed_dest=${l.failedDest} lost=${l.lost} extra_invocations=${l.extraInvocations} fault_hits=${l.faultHits}`;

export function total(ledgers: Ledger[]): Ledger {
  const sum = (k: keyof Ledger) => ledgers.reduce((a, l) => a + (l[k] as number), 0);
  return {
    scenario: 'ALL',
    produced: sum('produced'),
    responded: sum('responded'),
    errored: sum('errored'),
    failedDest: sum('failedDest'),
    lost: sum('lost'),
    extraInvocations: sum('extraInvocations'),
    failedTargetInvocations: sum('failedTargetInvocations'),
    faultHits: sum('faultHits'),
    faultCounted: 'all',
    canaryInLogs: sum('canaryInLogs'),
    seconds: sum('seconds'),
  };
}

/** What the ledger observed at the pipeline's ends, for account(). */
export interface Observed {
  /** The source topic: each record's coordinates, its n, and its key and value as base64 (as the mapping's event carries them). */
  readonly source: readonly { partition: number; offset: number; n: number; key: string | null; value: string }[];
  /** Response topic records: the key's coordinates and whether the value holds a result. */
  readonly responses: readonly { partition: number; offset: number; hasResult: boolean }[];
  /** Error topic records: their key's range and the records they carry. */
  readonly errors: readonly {
    partition: number;
    startOffset: number;
    endOffset: number;
    records?: readonly { offset?: unknown; key?: unknown; value?: unknown }[];
  }[];
  /** On-failure destination ranges (last inclusive), as the mapping's on-failure record gives them. */
  readonly failedRanges: readonly { partition: number; first: number; last: number }[];
  /** Each target invocation's records' coordinates (in process: each effect of the user's code, one record each). */
  readonly invocations: readonly (readonly { partition: number; offset: number }[])[];
}

/**
 * The accounting, by source coordinates: every produced record must be responded (a result under its coordinates on
 * the response topic), errored (an error record holding its key and value bytes: a range whose records are not kept
 * does not count) or in an on-failure range.
 */
export function account(
  o: Observed,
): Pick<Ledger, 'produced' | 'responded' | 'errored' | 'failedDest' | 'lost' | 'extraInvocations'> {
  const at = (partition: number, offset: number) => `${partition}@${offset}`;
  const byCoordinates = new Map(o.source.map((r) => [at(r.partition, r.offset), r]));
  const produced = (partition: number, offset: number) =>
    byCoordinates.has(at(partition, offset)) ? at(partition, offset) : undefined;
  const responded = new Set<string>();
  for (const k of o.responses) {
    const c = produced(k.partition, k.offset);
    if (c !== undefined && k.hasResult) responded.add(c);
  }
  const errored = new Set<string>();
  for (const e of o.errors) {
    for (const kept of e.records ?? []) {
      const offset = Number(kept?.offset);
      if (!(offset >= e.startOffset && offset < e.endOffset)) continue;
      const r = byCoordinates.get(at(e.partition, offset));
      if (r && kept.value === r.value && (kept.key ?? null) === r.key) errored.add(at(r.partition, r.offset));
    }
  }
  const failed = new Set<string>();
  for (const f of o.failedRanges) {
    for (let offset = f.first; offset <= f.last; offset++) {
      const c = produced(f.partition, offset);
      if (c !== undefined) failed.add(c);
    }
  }
  const accounted = new Set([...responded, ...errored, ...failed]);
  const deliveries = o.invocations.reduce((a, inv) => a + inv.length, 0);
  const distinct = new Set(o.invocations.flatMap((inv) => inv.map((c) => at(c.partition, c.offset)))).size;
  return {
    produced: o.source.length,
    responded: responded.size,
    errored: errored.size,
    failedDest: failed.size,
    lost: [...byCoordinates.keys()].filter((c) => !accounted.has(c)).length,
    extraInvocations: deliveries - distinct,
  };
}

/** Two invocations of the same record whose runs overlap in time (strict idempotency must prevent them). */
export function overlappingRuns(invocations: readonly { at: number; doneAt?: number; records: readonly string[] }[]): number {
  const runs = new Map<string, { at: number; doneAt: number }[]>();
  for (const inv of invocations)
    for (const r of inv.records) (runs.get(r) ?? runs.set(r, []).get(r)!).push({ at: inv.at, doneAt: inv.doneAt ?? Infinity });
  let overlaps = 0;
  for (const list of runs.values()) {
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++) if (list[i].at < list[i - 1].doneAt) overlaps++;
  }
  return overlaps;
}

/** What a fault step saw while it ran (counts taken before it, or of what it caught), for its scenario's faultHits. */
export type Seen = Readonly<Record<string, number>>;

/** How a scenario counts its fault's hits on work in flight, outside the code under test, from what the run's ends hold. */
export interface FaultHits<End> {
  /** What is counted (the ledger's faultCounted). */
  readonly counted: string;
  readonly count: (end: End, seen: Seen) => number;
}
