/**
 * One shard's records between GetRecords and the checkpoint: split into ParallelizationFactor lanes by partition
 * key (a key's records stay in one lane, in order), and the checkpoint, which moves only over records that are
 * all done, whatever order the lanes finish in.
 */
import { createHash } from 'node:crypto';
import type { ShardRecord } from './event';

interface Entry {
  readonly record: ShardRecord;
  done: boolean;
}

/** Wakes whoever waits on it, or lets the wait end after a timeout. */
export class Wake {
  private waiters: (() => void)[] = [];
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.push(done);
    });
  }
  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

export interface Lane {
  readonly queue: { entry: Entry; queuedAt: number }[];
  readonly wake: Wake;
}

export class ShardState {
  public readonly lanes: Lane[];
  /** Wakes the reader when records are done (room to read ahead) or the mapping stops. */
  public readonly wake = new Wake();
  /** The shard returned no next iterator: it is closed and everything of it was read. */
  public closed = false;
  public iteratorAgeMs = 0;
  public recordsDone = 0;
  private readonly pending: Entry[] = [];
  private head = 0;

  constructor(
    public readonly shardId: string,
    parallelizationFactor: number,
    public checkpoint: string | undefined,
  ) {
    this.lanes = Array.from({ length: parallelizationFactor }, () => ({ queue: [], wake: new Wake() }));
  }

  /** Records read and not yet behind the checkpoint. */
  get unfinished(): number {
    return this.pending.length - this.head;
  }

  add(records: readonly ShardRecord[]): void {
    const now = Date.now();
    for (const record of records) {
      const entry = { record, done: false };
      this.pending.push(entry);
      const lane =
        this.lanes.length === 1 ? 0 : createHash('md5').update(record.partitionKey).digest().readUInt32BE(0) % this.lanes.length;
      this.lanes[lane].queue.push({ entry, queuedAt: now });
    }
    for (const l of this.lanes) l.wake.notify();
  }

  /** Marks a batch done; returns whether the checkpoint moved. */
  done(entries: readonly Entry[]): boolean {
    for (const e of entries) e.done = true;
    this.recordsDone += entries.length;
    this.iteratorAgeMs = Date.now() - entries[entries.length - 1].record.arrivalMs;
    const before = this.head;
    while (this.head < this.pending.length && this.pending[this.head].done)
      this.checkpoint = this.pending[this.head++].record.sequenceNumber;
    const moved = this.head !== before;
    if (this.head > 10_000) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    this.wake.notify();
    return moved;
  }

  /** Every record read is done and the shard is closed: its children may start. */
  get ended(): boolean {
    return this.closed && this.unfinished === 0;
  }
}

export type { Entry as ShardEntry };
