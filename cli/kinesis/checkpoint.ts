/**
 * The Kinesis mapping's checkpoints: per shard, the last sequence number done (every record up to it succeeded
 * or went to the on-failure destination) and whether the shard ended. Kept in a JSON file, replaced atomically
 * (write, then rename), so a restarted command resumes after it instead of reading the stream again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalEsmConfigError } from '../errors';

export interface ShardCheckpoint {
  sequenceNumber?: string;
  /** The shard is closed and every record of it is done: its children may start. */
  ended?: boolean;
}

interface CheckpointDocument {
  version: 1;
  streamArn: string;
  functionArn: string;
  shards: Record<string, ShardCheckpoint>;
}

export class CheckpointFile {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    public readonly file: string,
    private readonly streamArn: string,
    private readonly functionArn: string,
  ) {}

  /** The checkpoints of an earlier run; none when the file does not exist yet. */
  load(): Record<string, ShardCheckpoint> {
    if (!fs.existsSync(this.file)) return {};
    let doc: CheckpointDocument;
    try {
      doc = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch (e) {
      throw new LocalEsmConfigError(
        `checkpoint file ${this.file} is not JSON (${(e as Error).message}); remove it to start from the starting position`,
      );
    }
    if (doc?.version !== 1 || typeof doc.shards !== 'object' || doc.shards === null)
      throw new LocalEsmConfigError(`checkpoint file ${this.file} is not a checkpoint file of this command`);
    if (doc.streamArn !== this.streamArn)
      throw new LocalEsmConfigError(
        `checkpoint file ${this.file} belongs to stream ${doc.streamArn}, not ${this.streamArn}; give another --checkpoint-file`,
      );
    return doc.shards;
  }

  /** Writes one after the other, each a whole file: a crash leaves the previous or the new checkpoints, never half. */
  save(shards: Record<string, ShardCheckpoint>): Promise<void> {
    const doc: CheckpointDocument = {
      version: 1,
      streamArn: this.streamArn,
      functionArn: this.functionArn,
      shards: JSON.parse(JSON.stringify(shards)),
    };
    const next = this.writing.then(async () => {
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify(doc, null, 1));
      await fs.promises.rename(tmp, this.file);
    });
    this.writing = next.catch(() => undefined); // a failed write does not stop the later ones
    return next;
  }
}
