/**
 * The local Kafka mapping follows the rule of the Lambda guide for Kafka: a consumer group with committed offsets is
 * resumed from them whatever the starting position (TRIM_HORIZON, LATEST, AT_TIMESTAMP); without committed offsets
 * the starting position applies. Against the real broker, a function under the Lambda emulator counting what it gets.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../../testenv';
import { LocalEsmOptions, LocalEventSourceMapping, StartingPosition } from '../../../cli/kafka/esm';
import { startLocalMapping, waitFor } from '../support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, '..', '..', 'fixtures', 'targets');
/** Records per partition, and the offset the group has committed in the middle of it. */
const N = 10;
const MIDDLE = 5;
/** The records' timestamps: CreateTime T0 + offset seconds, so a time picks an offset. */
const T0 = Date.now() - 3_600_000;
const at = (offset: number) => T0 + offset * 1000;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('local Kafka mapping: committed offsets win over the starting position', () => {
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const fns: te.RunningLambda[] = [];
  const mappings: LocalEventSourceMapping[] = [];

  beforeAll(async () => {
    await producer.connect();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await producer.disconnect();
    await admin.disconnect();
    await Promise.all(fns.map((f) => f.stop()));
  });

  async function fn(): Promise<string> {
    const name = `start-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.ok' }));
    return name;
  }
  /** A topic whose partitions hold offsets 0..N-1, written at(offset). */
  async function topicWithRecords(partitions = 1): Promise<string> {
    const t = `start-${randomUUID()}`;
    await te.createTopic(t, partitions);
    await producer.send({
      topic: t,
      messages: range(0, partitions).flatMap((partition) =>
        range(0, N).map((o) => ({ partition, value: `${partition}:${o}`, timestamp: String(at(o)) })),
      ),
    });
    return t;
  }
  /** Commits offsets for the group (no member yet), as a consumer that read up to them (or `migrate offsets`) would. */
  async function commit(groupId: string, t: string, partitions: { partition: number; offset: number }[]): Promise<void> {
    await admin.setOffsets({ groupId, topic: t, partitions: partitions.map((p) => ({ ...p, offset: String(p.offset) })) });
  }
  const committed = async (groupId: string, t: string) =>
    (await admin.fetchOffsets({ groupId, topics: [t] }))[0].partitions
      .sort((a, b) => a.partition - b.partition)
      .map((p) => Number(p.offset));
  /** The offsets the function got, per partition, in the order it got them. */
  async function delivered(name: string, t: string, partitions = 1): Promise<number[][]> {
    const events = (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
    return range(0, partitions).map((p) => events.flatMap((e) => (e.records[`${t}-${p}`] ?? []).map((r: any) => r.offset)));
  }
  const mapping = (o: Partial<LocalEsmOptions> & { topics: string[] }) => startLocalMapping(mappings, o);
  // AT_TIMESTAMP before the committed offset, and after it: neither moves the group.
  const positions: Array<[string, StartingPosition, Partial<LocalEsmOptions>]> = [
    ['TRIM_HORIZON', 'TRIM_HORIZON', {}],
    ['LATEST', 'LATEST', {}],
    ['AT_TIMESTAMP of offset 2', 'AT_TIMESTAMP', { startingPositionTimestamp: at(2) }],
    ['AT_TIMESTAMP of offset 8', 'AT_TIMESTAMP', { startingPositionTimestamp: at(8) }],
  ];

  test.each(positions)(
    'a group with committed offsets in the middle of the topic resumes there with %s',
    async (_label, startingPosition, extra) => {
      // GIVEN a topic of N records and a group that committed offset MIDDLE (the next record to read)
      const t = await topicWithRecords();
      const groupId = `connect-${randomUUID()}`;
      await commit(groupId, t, [{ partition: 0, offset: MIDDLE }]);
      const name = await fn();
      // WHEN a local mapping of that group starts with the starting position
      const m = mapping({ topics: [t], functionName: name, consumerGroupId: groupId, startingPosition, ...extra });
      await waitFor('the group commits the end of the topic', async () => (await committed(groupId, t))[0] === N);
      // THEN the function got every record from the committed offset on, once, and none before it
      expect(await delivered(name, t)).toEqual([range(MIDDLE, N)]);
      await waitFor('the mapping counts the commits', () => m.stats.recordsCommitted === N - MIDDLE, 10_000);
    },
  );

  test.each<[string, StartingPosition, Partial<LocalEsmOptions>, number[]]>([
    ['TRIM_HORIZON', 'TRIM_HORIZON', {}, range(0, N)],
    ['AT_TIMESTAMP of offset 2', 'AT_TIMESTAMP', { startingPositionTimestamp: at(2) }, range(2, N)],
    ['AT_TIMESTAMP of offset 8', 'AT_TIMESTAMP', { startingPositionTimestamp: at(8) }, range(8, N)],
  ])('a named group with no committed offsets starts at %s', async (_label, startingPosition, extra, expected) => {
    // GIVEN a topic of N records and a group id nobody has used
    const t = await topicWithRecords();
    const groupId = `empty-${randomUUID()}`;
    expect(await committed(groupId, t)).toEqual([-1]);
    const name = await fn();
    // WHEN a local mapping of that group starts
    mapping({ topics: [t], functionName: name, consumerGroupId: groupId, startingPosition, ...extra });
    await waitFor('the group commits the end of the topic', async () => (await committed(groupId, t))[0] === N);
    // THEN delivery began at the starting position
    expect(await delivered(name, t)).toEqual([expected]);
  });

  test('a named group with no committed offsets starts at LATEST: only records written after it joined', async () => {
    // GIVEN a topic of N records and a group id nobody has used
    const t = await topicWithRecords();
    const groupId = `empty-${randomUUID()}`;
    const name = await fn();
    // WHEN a local mapping of that group starts from LATEST, and a record is written once it has joined
    mapping({ topics: [t], functionName: name, consumerGroupId: groupId, startingPosition: 'LATEST' });
    await waitFor('the group is stable', async () => (await admin.describeGroups([groupId])).groups[0].state === 'Stable');
    // the member has its assignment before it looks up the end of the partition: wait until its position is known
    await new Promise((r) => setTimeout(r, 1000));
    await producer.send({ topic: t, messages: [{ partition: 0, value: 'new' }] });
    await waitFor('the group commits the new record', async () => (await committed(groupId, t))[0] === N + 1);
    // THEN only that record was delivered
    expect(await delivered(name, t)).toEqual([[N]]);
  });

  test.each<[string, StartingPosition, Partial<LocalEsmOptions>, number[]]>([
    ['TRIM_HORIZON', 'TRIM_HORIZON', {}, range(0, N)],
    ['AT_TIMESTAMP of offset 8', 'AT_TIMESTAMP', { startingPositionTimestamp: at(8) }, range(8, N)],
  ])(
    'per partition: a partition the group committed resumes there, one it did not starts at %s',
    async (_label, startingPosition, extra, uncommitted) => {
      // GIVEN two partitions of N records and a group that committed MIDDLE on partition 0 only
      const t = await topicWithRecords(2);
      const groupId = `connect-${randomUUID()}`;
      await commit(groupId, t, [{ partition: 0, offset: MIDDLE }]);
      const name = await fn();
      // WHEN a local mapping of that group starts
      mapping({ topics: [t], functionName: name, consumerGroupId: groupId, startingPosition, ...extra });
      await waitFor(
        'the group commits the end of both partitions',
        async () => (await committed(groupId, t)).join() === `${N},${N}`,
      );
      // THEN partition 0 resumed at its committed offset and partition 1 began at the starting position
      expect(await delivered(name, t, 2)).toEqual([range(MIDDLE, N), uncommitted]);
    },
  );
});
