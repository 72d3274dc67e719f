/**
 * cdk-kafka-lambda migrate offsets: copies a Kafka Connect sink connector's committed offsets (group
 * `connect-<name>`) into the consumer group of each event source mapping (one group per topic), so that a mapping
 * created or enabled in that group starts where the connector stopped: a group's committed offsets win over the
 * mapping's StartingPosition.
 */
import { Admin, Kafka, KafkaConfig, logLevel } from 'kafkajs';

/** A refusal or a setting that cannot work; the message names what was found and what to do. */
export class MigrateOffsetsError extends Error {
  public override readonly name = 'MigrateOffsetsError';
}

/** One mapping's topic and the consumer group it will use. */
export interface TopicGroup {
  readonly topic: string;
  readonly groupId: string;
}

export interface MigrateOffsetsOptions {
  readonly kafka: KafkaConfig;
  /** The connector's name: its consumer group is `connect-<name>`. */
  readonly connector: string;
  /** The connector's group when its config overrides it (consumer.override.group.id). @default connect-<connector> */
  readonly connectorGroup?: string;
  readonly groups: readonly TopicGroup[];
  /** Report what would be committed, commit nothing. */
  readonly dryRun?: boolean;
  /** Move a target group backwards (its committed offset is past the connector's). */
  readonly force?: boolean;
}

/** What is (or would be) done for one topic-partition. Offsets are kafkajs' decimal strings. */
export interface PartitionMove {
  readonly topic: string;
  readonly partition: number;
  readonly groupId: string;
  /** The target group's committed offset before, undefined when it has none. */
  readonly from?: string;
  /** The offset committed: the connector's, or the log start where adjusted. */
  readonly to?: string;
  readonly highWatermark: string;
  /** The partition's log start offset: a `to` below it names records retention has deleted. */
  readonly logStart: string;
  /** Records from `to` to the high watermark: what the mapping will read first. */
  readonly lag?: string;
  /** `to` is below the target's committed offset. */
  readonly backwards: boolean;
  /**
   * Where `to` is not the connector's own offset: `below-log-start` (retention deleted records from the connector's
   * offset on: the log start is committed, as the connector's consumer would read next), `new-partition` (the connector
   * committed other partitions of the topic, not this one, added since: its log start, what the connector's consumer,
   * auto.offset.reset=earliest, would read). @default - the connector's offset
   */
  readonly adjusted?: 'below-log-start' | 'new-partition';
  /** The connector's committed offset, when `to` is adjusted from it. */
  readonly connectorOffset?: string;
}

export interface MigrateOffsetsResult {
  readonly connectorGroup: string;
  readonly moves: PartitionMove[];
  /** Topics the connector's group holds offsets for that were not given: not migrated. */
  readonly otherTopics: string[];
  /** False on a dry run. */
  readonly committed: boolean;
}

/** The group of a Connect sink connector (its consumers' group.id, unless the connector overrides it). */
export const connectorGroupId = (connector: string) => `connect-${connector}`;

/**
 * Checks, then commits. Refuses (MigrateOffsetsError, nothing committed) when the connector's group or a target
 * group has active members, when the connector committed nothing for a topic, or when a target group would move
 * backwards without `force`. `report` gets the per-partition moves before anything is committed.
 */
export async function migrateOffsets(
  o: MigrateOffsetsOptions,
  report: (moves: PartitionMove[]) => void = () => undefined,
): Promise<MigrateOffsetsResult> {
  const connectorGroup = o.connectorGroup ?? connectorGroupId(o.connector);
  validateGroups(o.groups, connectorGroup);
  const admin = new Kafka({ logLevel: logLevel.NOTHING, ...o.kafka }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const unknown = o.groups.filter((g) => !existing.has(g.topic)).map((g) => g.topic);
    if (unknown.length)
      throw new MigrateOffsetsError(`no topic ${unknown.map((t) => `"${t}"`).join(', ')} on the cluster: check the topic names`);
    await refuseActiveMembers(admin, connectorGroup, o.groups);
    const moves = await planMoves(admin, connectorGroup, o.groups);
    report(moves);
    const backwards = moves.filter((m) => m.backwards);
    if (backwards.length && !o.force)
      throw new MigrateOffsetsError(
        `refusing to move ${backwards.length} partition(s) backwards (the group's committed offset is past the connector's): ` +
          `${backwards.map((m) => `${m.groupId} ${m.topic}-${m.partition} ${m.from} → ${m.to}`).join(', ')}; ` +
          'the mapping has already read past where the connector stopped: give --force to read those records again',
      );
    const otherTopics = await otherTopicsOf(admin, connectorGroup, o.groups);
    if (o.dryRun) return { connectorGroup, moves, otherTopics, committed: false };
    await commitMoves(admin, moves);
    await refuseMovedConnector(admin, connectorGroup, moves);
    return { connectorGroup, moves, otherTopics, committed: true };
  } finally {
    await admin.disconnect();
  }
}

function validateGroups(groups: readonly TopicGroup[], connectorGroup: string): void {
  if (!groups.length) throw new MigrateOffsetsError('no topic to migrate: give --group TOPIC=GROUP_ID or --template');
  const seen = new Set<string>();
  const topicOf = new Map<string, string>();
  for (const { topic, groupId } of groups) {
    if (seen.has(topic)) throw new MigrateOffsetsError(`topic "${topic}" is given twice: a topic has one mapping and one group`);
    seen.add(topic);
    const other = topicOf.get(groupId);
    if (other !== undefined)
      throw new MigrateOffsetsError(
        `topics "${other}" and "${topic}" are both given the group ${groupId}: a group ID is unique per mapping ` +
          '(one per topic), and two mappings in one group would each get only some partitions; give each topic its own group',
      );
    topicOf.set(groupId, topic);
    if (groupId === connectorGroup)
      throw new MigrateOffsetsError(
        `the group of topic "${topic}" is the connector's own group ${groupId}: give the mapping a group of its own`,
      );
  }
}

/** Both the connector (its tasks would commit again over ours) and a running mapping (it would too) must be stopped. */
async function refuseActiveMembers(admin: Admin, connectorGroup: string, groups: readonly TopicGroup[]): Promise<void> {
  const ids = [connectorGroup, ...new Set(groups.map((g) => g.groupId))];
  const { groups: described } = await admin.describeGroups(ids);
  const active = (id: string) => described.find((g) => g.groupId === id)?.members ?? [];
  const names = (id: string) =>
    active(id)
      .map((m) => `${m.clientId}${m.clientHost ? ` on ${m.clientHost}` : ''} (${m.memberId})`)
      .join(', ');
  if (active(connectorGroup).length)
    throw new MigrateOffsetsError(
      `the connector's group ${connectorGroup} has ${active(connectorGroup).length} active member(s): ${names(connectorGroup)}; ` +
        "stop the connector first (Connect 3.5+: PUT /connectors/<name>/stop; a paused connector's tasks stay in the group), " +
        'or stop its workers',
    );
  const running = ids.slice(1).filter((id) => active(id).length);
  if (running.length)
    throw new MigrateOffsetsError(
      `target group(s) with active members: ${running.map((id) => `${id}: ${names(id)}`).join('; ')}; ` +
        'the mapping is running: disable it (Enabled: false) and run again',
    );
}

/** Per topic-partition: the target's committed offset, the connector's, the high watermark. */
async function planMoves(admin: Admin, connectorGroup: string, groups: readonly TopicGroup[]): Promise<PartitionMove[]> {
  const topics = groups.map((g) => g.topic);
  const source = await admin.fetchOffsets({ groupId: connectorGroup, topics });
  const moves: PartitionMove[] = [];
  for (const { topic, groupId } of groups) {
    const fromConnector = committedOf(source, topic);
    if (![...fromConnector.values()].some((offset) => offset !== undefined))
      throw new MigrateOffsetsError(
        `the connector's group ${connectorGroup} has no committed offset for topic "${topic}": ` +
          'check the connector name (--connector) and that the topic is one of its topics',
      );
    const target = committedOf(await admin.fetchOffsets({ groupId, topics: [topic] }), topic);
    for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
      const from = target.get(partition);
      const connector = fromConnector.get(partition);
      const adjusted =
        connector === undefined ? 'new-partition' : BigInt(connector) < BigInt(low) ? 'below-log-start' : undefined;
      const to = adjusted ? low : connector!;
      moves.push({
        topic,
        partition,
        groupId,
        from,
        to,
        highWatermark: high,
        logStart: low,
        lag: String(BigInt(high) - BigInt(to)),
        backwards: from !== undefined && BigInt(from) > BigInt(to),
        ...(adjusted ? { adjusted, connectorOffset: connector } : {}),
      });
    }
  }
  return moves.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** The topics the connector's group committed offsets for that are not among the given ones. */
async function otherTopicsOf(admin: Admin, connectorGroup: string, groups: readonly TopicGroup[]): Promise<string[]> {
  const given = new Set(groups.map((g) => g.topic));
  return (await admin.fetchOffsets({ groupId: connectorGroup }))
    .filter((t) => !given.has(t.topic) && t.partitions.some((p) => BigInt(p.offset) >= 0n))
    .map((t) => t.topic)
    .sort();
}

/**
 * After the commit, the connector's group must still be empty and where it was: a task that joined meanwhile goes on
 * from the connector's offsets, and the records past those copied would be delivered by both.
 */
async function refuseMovedConnector(admin: Admin, connectorGroup: string, moves: readonly PartitionMove[]): Promise<void> {
  const { groups } = await admin.describeGroups([connectorGroup]);
  const members = groups.find((g) => g.groupId === connectorGroup)?.members ?? [];
  const topics = [...new Set(moves.map((m) => m.topic))];
  const now = await admin.fetchOffsets({ groupId: connectorGroup, topics });
  const moved = moves.filter((m) => {
    const offset = committedOf(now, m.topic).get(m.partition);
    return offset !== (m.connectorOffset ?? (m.adjusted ? undefined : m.to));
  });
  if (members.length || moved.length)
    throw new MigrateOffsetsError(
      `the connector's group ${connectorGroup} changed while its offsets were copied (${members.length} active member(s)` +
        `${moved.length ? `; offsets moved on ${moved.map((m) => `${m.topic}-${m.partition}`).join(', ')}` : ''}): ` +
        'the copies are committed, but the connector is running again and records past them would be delivered twice; ' +
        'stop the connector and run migrate offsets again with --force',
    );
}

type FetchedOffsets = Awaited<ReturnType<Admin['fetchOffsets']>>;

/** partition → committed offset (undefined: none; kafkajs says -1). */
function committedOf(fetched: FetchedOffsets, topic: string): Map<number, string | undefined> {
  const partitions = fetched.find((t) => t.topic === topic)?.partitions ?? [];
  return new Map(partitions.map((p) => [p.partition, BigInt(p.offset) < 0n ? undefined : p.offset]));
}

/** One commit per group and topic; then read back, so what is reported as done is what the broker holds. */
async function commitMoves(admin: Admin, moves: PartitionMove[]): Promise<void> {
  const byGroup = new Map<string, PartitionMove[]>();
  for (const m of moves.filter((x) => x.to !== undefined && x.to !== x.from))
    byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m]);
  // kafkajs commits by joining the group with a consumer, which takes a moment: groups apart at once, a group's topics in turn.
  await Promise.all(
    [...byGroup].map(async ([groupId, list]) => {
      for (const topic of new Set(list.map((m) => m.topic)))
        await commitTopic(
          admin,
          groupId,
          topic,
          list.filter((m) => m.topic === topic),
        );
    }),
  );
}

async function commitTopic(admin: Admin, groupId: string, topic: string, list: PartitionMove[]): Promise<void> {
  await admin.setOffsets({ groupId, topic, partitions: list.map((m) => ({ partition: m.partition, offset: m.to! })) });
  const now = committedOf(await admin.fetchOffsets({ groupId, topics: [topic] }), topic);
  const differ = list.filter((m) => now.get(m.partition) !== m.to);
  if (differ.length)
    throw new MigrateOffsetsError(
      `group ${groupId} holds other offsets than were committed: ${differ
        .map((m) => `${topic}-${m.partition} ${now.get(m.partition) ?? 'none'} (expected ${m.to})`)
        .join(', ')}; is a consumer of that group running?`,
    );
}

function status(m: PartitionMove): string {
  if (m.backwards) return 'BACKWARDS';
  if (m.adjusted === 'below-log-start')
    return `the connector's ${m.connectorOffset} is below the log start: retention deleted ${BigInt(m.logStart) - BigInt(m.connectorOffset!)} record(s) the connector had not taken`;
  if (m.adjusted === 'new-partition') return 'the connector committed none (a partition added since): from its log start';
  return m.to === m.from ? 'unchanged' : '';
}

/** The per-partition lines: from, to, high watermark, lag. */
export function formatMoves(moves: readonly PartitionMove[]): string[] {
  const rows = moves.map((m) => [
    `${m.topic}-${m.partition}`,
    m.groupId,
    m.from ?? 'none',
    m.to ?? 'none',
    m.highWatermark,
    m.lag ?? '-',
    status(m),
  ]);
  const header = ['topic-partition', 'group', 'from', 'to', 'high watermark', 'lag', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 3 && r[i].length > 20 ? 0 : r[i].length))));
  return [header, ...rows].map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
}
