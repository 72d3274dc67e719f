/**
 * Watches a kafkajs consumer for a stalled fetch loop: records behind a partition's high watermark while no batch
 * starts or ends, and the member still in its group (kafkajs can keep the group membership while its fetch never
 * returns). A slow batch is never a stall: the clock only runs while no batch is in progress.
 */
import type { Admin } from 'kafkajs';

/** A partition of the member whose high watermark is above the next offset to deliver. */
export interface BehindPartition {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  readonly highWatermark: number;
}

/** What the watch asks the broker. */
export interface StallProbe {
  /** The member's partitions with records behind the high watermark. */
  behind(): Promise<BehindPartition[]>;
  /** Whether the member is still in its group. */
  inGroup(): Promise<boolean>;
}

export interface StallWatchOptions {
  /** How long records may stay behind with no batch started or ended, ms. */
  readonly boundMs: number;
  readonly probe: StallProbe;
  /** Restarts the consumer; the watch counts a stall once, then waits for it. */
  readonly onStall: (behind: BehindPartition[]) => Promise<void>;
}

export class StallWatch {
  private inFlight = 0;
  /** Bumped on every batch start and end, group join and restart: any of them ends a suspected stall. */
  private activity = 0;
  private suspected?: { readonly since: number; readonly activity: number };
  /** Restarts with no batch started since: each doubles the bound, so a position no restart helps is not restarted in a loop. */
  private fruitlessRestarts = 0;
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(private readonly o: StallWatchOptions) {}

  start(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.o.boundMs / 4)));
    this.timer = setInterval(() => void this.check(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  batchStarted(): void {
    this.inFlight++;
    this.activity++;
    this.fruitlessRestarts = 0;
  }

  batchEnded(): void {
    this.inFlight--;
    this.activity++;
  }

  /** The consumer joined its group or was restarted: its fetches start again from now. */
  reset(): void {
    this.activity++;
  }

  private quiet(since: number): boolean {
    return this.inFlight === 0 && this.activity === since && this.timer !== undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const activity = this.activity;
      if (this.inFlight > 0) return;
      const behind = await this.o.probe.behind();
      if (!this.quiet(activity) || behind.length === 0) {
        this.suspected = undefined;
        return;
      }
      if (this.suspected?.activity !== activity) this.suspected = { since: Date.now(), activity };
      const bound = this.o.boundMs * 2 ** Math.min(this.fruitlessRestarts, 6);
      if (Date.now() - this.suspected.since < bound) return;
      if (!(await this.o.probe.inGroup()) || !this.quiet(activity)) return;
      this.suspected = undefined;
      this.fruitlessRestarts++;
      this.activity++;
      await this.o.onStall(behind);
    } catch {
      // The broker could not be asked (e.g. it is restarting): kafkajs' own retries deal with that, not a restart.
      this.suspected = undefined;
    } finally {
      this.checking = false;
    }
  }
}

/**
 * The probe for a member of `groupId`: its assignment and member id as its last group join gave them, high watermarks
 * and committed offsets from the admin API. A partition with no committed offset counts from its log start when the
 * mapping starts at TRIM_HORIZON, and is not judged otherwise (LATEST's position is not known outside the consumer).
 */
export function adminProbe(
  admin: () => Promise<Admin>,
  groupId: string,
  member: () => { readonly memberId?: string; readonly assignment: Record<string, number[]> },
  fromLogStart: boolean,
): StallProbe {
  return {
    async behind() {
      const a = await admin();
      const out: BehindPartition[] = [];
      for (const [topic, partitions] of Object.entries(member().assignment)) {
        if (!partitions.length) continue;
        const watermarks = await a.fetchTopicOffsets(topic);
        const committed = (await a.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
        for (const partition of partitions) {
          const w = watermarks.find((p) => p.partition === partition);
          const c = Number(committed.find((p) => p.partition === partition)?.offset ?? -1);
          const nextOffset = c >= 0 ? c : fromLogStart && w ? Number(w.low) : undefined;
          if (w && nextOffset !== undefined && Number(w.high) > nextOffset)
            out.push({ topic, partition, nextOffset, highWatermark: Number(w.high) });
        }
      }
      return out;
    },
    async inGroup() {
      const { memberId } = member();
      if (!memberId) return false;
      const { groups } = await (await admin()).describeGroups([groupId]);
      return groups[0]?.members.some((m) => m.memberId === memberId) ?? false;
    },
  };
}
