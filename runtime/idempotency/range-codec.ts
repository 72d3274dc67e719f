/**
 * The ranges of a partition as the code reads them (Range) and as the partition's item stores them (the `ranges`
 * attribute: JSON of StoredRange, one letter a field, since the list has a byte cap, RANGES_BYTES in ranges.ts).
 * Existing items must decode as they always did: the stored names, their order and the position shorthand below
 * do not change.
 */
import type { RecordOutcome } from './store';
import type { Position } from '../dispatcher/source';

/**
 * A range of a partition done: records first..last (inclusive) of one or more target invocations or errors that were
 * consecutive in an event. With results not yet relayed it is one invocation's, with their outcome; once they are
 * relayed it merges with its neighbours.
 */
export interface Range {
  readonly first: Position;
  readonly last: Position;
  /** The outcome; absent when merged ranges had several (nothing of them is left to relay). */
  readonly outcome?: RecordOutcome;
  /** When it was done, epoch seconds: it is forgotten after the TTL. */
  readonly doneAtSeconds: number;
  /** Id and count of the items holding its results. */
  readonly resultsId?: string;
  readonly resultItems?: number;
  /** Records whose result was not stored (too big). */
  readonly unstored?: Position[];
  /** Records whose result was neither stored nor yet relayed: not done. */
  readonly relayPending?: Position[];
}

/**
 * A range as stored, each field of Range under one letter, written in this order:
 *
 * | stored | Range field     |
 * |--------|-----------------|
 * | `f`    | `first`         |
 * | `l`    | `last`          |
 * | `o`    | `outcome`       |
 * | `t`    | `doneAtSeconds` |
 * | `k`    | `resultsId`     |
 * | `r`    | `resultItems`   |
 * | `x`    | `unstored`      |
 * | `p`    | `relayPending`  |
 *
 * An absent field is not written.
 */
export interface StoredRange {
  readonly f: Position;
  readonly l: Position;
  readonly o?: RecordOutcome;
  readonly t: number;
  readonly k?: string;
  readonly r?: number;
  readonly x?: Position[];
  readonly p?: Position[];
}

/** The stored form of a range, its fields in the table's order (JSON.stringify leaves out the absent ones). */
export function toStoredRange(range: Range): StoredRange {
  return {
    f: range.first,
    l: range.last,
    o: range.outcome,
    t: range.doneAtSeconds,
    k: range.resultsId,
    r: range.resultItems,
    x: range.unstored,
    p: range.relayPending,
  };
}

export function fromStoredRange(stored: StoredRange): Range {
  return {
    first: stored.f,
    last: stored.l,
    outcome: stored.o,
    doneAtSeconds: stored.t,
    resultsId: stored.k,
    resultItems: stored.r,
    unstored: stored.x,
    relayPending: stored.p,
  };
}

/**
 * The ranges as stored: JSON of StoredRange, with each string position (a Kinesis sequence number) that has the length
 * of the one written before it (in the order f, l, x, p of each range) written as "~" and the digits that differ at its
 * end, since positions of a shard share most of theirs.
 */
export function encodeRanges(ranges: readonly Range[]): string {
  let previous: Position | undefined;
  const short = (p: Position): Position => {
    const before = previous;
    previous = p;
    if (typeof p !== 'string' || typeof before !== 'string' || before.length !== p.length) return p;
    let same = 0;
    while (same < p.length && p[same] === before[same]) same++;
    return same > 2 ? `~${p.slice(same)}` : p;
  };
  return JSON.stringify(
    ranges.map(toStoredRange).map((r) => ({
      ...r,
      f: short(r.f),
      l: short(r.l),
      x: r.x?.map(short),
      p: r.p?.map(short),
    })),
  );
}

/** The ranges of a stored `ranges` attribute (encodeRanges' inverse). */
export function decodeRanges(text: string): Range[] {
  let previous: Position | undefined;
  const full = (p: Position): Position => {
    if (typeof p === 'string' && p.startsWith('~') && typeof previous === 'string')
      p = previous.slice(0, previous.length - (p.length - 1)) + p.slice(1);
    previous = p;
    return p;
  };
  return (JSON.parse(text) as StoredRange[]).map((r) =>
    fromStoredRange({
      ...r,
      f: full(r.f),
      l: full(r.l),
      x: r.x?.map(full),
      p: r.p?.map(full),
    }),
  );
}
