/**
 * migrate plan and migrate offsets attacked: unusual but valid connector configs, credentials in URLs, shared groups,
 * incomplete auth flags, and offsets the cluster no longer holds (a fake kafkajs admin: no broker).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KafkaCluster, KafkaTrigger } from '../../lib';
import { ObjectExpr } from '../../cli/migrate/codegen';
import { formatPlan, offsetsCommandLine } from '../../cli/migrate/output';
import { buildPlan, MigrationPlan } from '../../cli/migrate/plan';
import { parseConnectorConfig } from '../../cli/migrate/read-config';
import { migrateOffsets, MigrateOffsetsError, PartitionMove } from '../../cli/migrate/offsets';
import { parseMigrateOffsetsArgs } from '../../cli/migrate/offsets-options';
import { testFunction, testStack } from '../trigger/support';

/** The fake cluster the mocked kafkajs admin answers from. */
interface FakeCluster {
  topics: Record<string, Array<{ low: string; high: string }>>;
  /** group → topic → partition → committed offset */
  committed: Record<string, Record<string, Record<number, string>>>;
  members: Record<string, number>;
  /** Called after each describeGroups: a member may join between the check and the commit. */
  afterDescribe?: () => void;
  setOffsetsCalls: Array<{ groupId: string; topic: string }>;
}
const cluster: FakeCluster = { topics: {}, committed: {}, members: {}, setOffsetsCalls: [] };

jest.mock('kafkajs', () => {
  const actual = jest.requireActual('kafkajs');
  const partitionsOf = (groupId: string, topic: string) =>
    cluster.topics[topic].map((_, partition) => ({
      partition,
      offset: cluster.committed[groupId]?.[topic]?.[partition] ?? '-1',
      metadata: null,
    }));
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => Object.keys(cluster.topics),
    describeGroups: async (ids: string[]) => {
      const groups = ids.map((groupId) => ({
        groupId,
        members: Array.from({ length: cluster.members[groupId] ?? 0 }, (_, i) => ({ memberId: `m${i}`, clientId: 'c' })),
      }));
      cluster.afterDescribe?.();
      return { groups };
    },
    fetchOffsets: async ({ groupId, topics }: { groupId: string; topics?: string[] }) =>
      (topics ?? Object.keys(cluster.committed[groupId] ?? {})).map((topic) => ({
        topic,
        partitions: partitionsOf(groupId, topic),
      })),
    fetchTopicOffsets: async (topic: string) =>
      cluster.topics[topic].map((p, partition) => ({ partition, low: p.low, high: p.high, offset: p.high })),
    setOffsets: async ({ groupId, topic, partitions }: any) => {
      if (cluster.members[groupId]) throw new Error('The consumer group must have no running instances');
      cluster.setOffsetsCalls.push({ groupId, topic });
      const g = (cluster.committed[groupId] ??= {});
      const t = (g[topic] ??= {});
      for (const p of partitions) t[p.partition] = p.offset;
    },
  };
  return { ...actual, Kafka: jest.fn().mockImplementation(() => ({ admin: () => admin })) };
});

function resetCluster(c: Partial<FakeCluster>): void {
  Object.assign(cluster, { topics: {}, committed: {}, members: {}, afterDescribe: undefined, setOffsetsCalls: [] }, c);
}

const KAFKA = { brokers: ['b:9092'] };

const CONFLUENT = 'io.confluent.connect.aws.lambda.AwsLambdaSinkConnector';
const NORDSTROM = 'com.nordstrom.kafka.connect.lambda.LambdaSinkConnector';
const plan = (text: string) => buildPlan(parseConnectorConfig(text));
const propValue = (p: MigrationPlan, name: string) => p.app.props.find((x) => x.prop === name)?.value;

describe('migrate plan: unusual but valid configs', () => {
  test('GIVEN topics with spaces after commas and a duplicate WHEN planned THEN each topic once, one group each, and it synthesizes', () => {
    // GIVEN
    const p = plan(
      `name=orders-sink\nconnector.class=${CONFLUENT}\ntopics=orders, payments ,orders\naws.lambda.function.name=fn\n`,
    );
    // THEN
    expect(propValue(p, 'topics')).toEqual(['orders', 'payments']);
    expect(p.groups.map((g) => g.topic)).toEqual(['orders', 'payments']);
    expect(offsetsCommandLine(p).match(/--group /g)).toHaveLength(2);
    expect(p.notes.join('\n')).toMatch(/more than once/);
    // WHEN the topics and groups are synthesized THEN the construct takes them
    const stack = testStack();
    new KafkaTrigger(stack, 'Trigger', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b:9092'] }),
      topics: propValue(p, 'topics') as string[],
      consumerGroupIds: (propValue(p, 'consumerGroupIds') as ObjectExpr).props as Record<string, string>,
      target: testFunction(stack),
    });
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
  });

  test('GIVEN a connector name with a space WHEN the offsets command line is printed THEN the name is one shell word', () => {
    // GIVEN
    const p = plan(`name=orders sink\nconnector.class=${CONFLUENT}\ntopics=orders\naws.lambda.function.name=fn\n`);
    // THEN
    expect(offsetsCommandLine(p)).toContain("--connector 'orders sink' ");
    expect(p.app.constructId).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
    expect(p.groups[0].groupId).toMatch(/^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/);
  });

  test('GIVEN a schema registry URL with user:pass@ (basic.auth.credentials.source=URL) WHEN planned THEN the password is printed nowhere and a secret is named', () => {
    // GIVEN the REST response, with tasks and type
    const p = plan(
      JSON.stringify({
        name: 'avro-sink',
        type: 'sink',
        tasks: [{ connector: 'avro-sink', task: 0 }],
        config: {
          'connector.class': CONFLUENT,
          topics: 'orders',
          'aws.lambda.function.name': 'fn',
          'value.converter': 'io.confluent.connect.avro.AvroConverter',
          'value.converter.basic.auth.credentials.source': 'URL',
          'value.converter.schema.registry.url': 'https://alice:hunter2-registry@sr.example.com:8081',
          'consumer.override.bootstrap.servers': 'SASL_SSL://bob:broker-pw-9@b-1.example.com:9096',
        },
      }),
    );
    // WHEN
    const out = formatPlan(p);
    // THEN
    expect(out).not.toContain('hunter2-registry');
    expect(out).not.toContain('broker-pw-9');
    expect(p.code).toContain("url: 'https://sr.example.com:8081'");
    expect(p.code).toContain('ConfluentRegistryAuthentication.BASIC');
    expect(p.secrets.map((s) => s.name)).toContain('avro-sink-schema-registry');
    expect(p.bootstrapServers).toEqual(['b-1.example.com:9096']);
  });

  test('GIVEN a Nordstrom config whose function ARN is in another region than aws.region WHEN planned THEN the plan says what to fix', () => {
    // GIVEN
    const p = plan(
      `name=n\nconnector.class=${NORDSTROM}\ntopics=orders\naws.region=us-east-1\n` +
        'aws.lambda.function.arn=arn:aws:lambda:eu-west-1:444455556666:function:fn\n',
    );
    // THEN
    expect(p.notes.join('\n')).toMatch(/eu-west-1.*us-east-1/);
  });

  test('GIVEN a lower-case invocation type, an out-of-range batch size and a properties file with comments, escapes and continuations WHEN planned THEN each is read as Java reads it', () => {
    // GIVEN
    const p = plan(
      [
        '# a comment',
        '! another',
        'name = orders\\',
        '   -sink',
        `connector.class : ${CONFLUENT}`,
        'topics orders\\u002Ev2',
        'aws.lambda.function.name=fn',
        'aws.lambda.invocation.type=async',
        'aws.lambda.batch.size=20000',
      ].join('\n'),
    );
    // THEN
    expect(p.connectorName).toBe('orders-sink');
    expect(propValue(p, 'topics')).toEqual(['orders.v2']);
    expect(p.code).toContain('DispatcherInvocationType.EVENT');
    expect(p.rows.find((r) => r.key === 'aws.lambda.batch.size')?.status).toBe('not supported');
    expect(propValue(p, 'recordsPerInvocation')).toBeUndefined();
  });
});

describe('migrate offsets: flags', () => {
  const base = ['--connector', 'c', '--group', 't=g', '--bootstrap-servers', 'b:1'];
  test.each([
    [['--sasl', 'scram-sha-512', '--username', 'u'], /needs --username and --password/],
    [['--sasl', 'plain'], /needs --username and --password/],
    [['--username', 'u', '--password', 'p'], /need --sasl/],
    [['--cert-file', '/dev/null'], /--cert-file and --key-file go together/],
    [['--key-file', '/dev/null'], /--cert-file and --key-file go together/],
  ])('GIVEN the auth flags %j WHEN parsed THEN refused, naming what is missing', (auth, message) => {
    expect(() => parseMigrateOffsetsArgs([...base, ...auth])).toThrow(message);
  });

  test('GIVEN a refused --sasl WHEN its message is read THEN it holds no password', () => {
    expect(() => parseMigrateOffsetsArgs([...base, '--sasl', 'nope', '--username', 'u', '--password', 'pw-777'])).toThrow(
      /^(?![\s\S]*pw-777)/,
    );
  });
});

describe('migrate offsets: groups and offsets', () => {
  test('GIVEN two topics given one group (--group t1=g --group t2=g) WHEN migrated THEN refused before connecting', async () => {
    const run = migrateOffsets({
      kafka: KAFKA,
      connector: 'c',
      groups: [
        { topic: 't1', groupId: 'g' },
        { topic: 't2', groupId: 'g' },
      ],
    });
    await expect(run).rejects.toThrow(MigrateOffsetsError);
    await expect(run).rejects.toThrow(/both given the group g/);
  });

  test('GIVEN a target group holding offsets for only some partitions WHEN migrated THEN the others are set, none moved backwards', async () => {
    // GIVEN
    resetCluster({
      topics: {
        t: [
          { low: '0', high: '100' },
          { low: '0', high: '100' },
        ],
      },
      committed: { 'connect-c': { t: { 0: '40', 1: '50' } }, g: { t: { 0: '40' } } },
    });
    // WHEN
    const result = await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] });
    // THEN
    expect(result.moves.map((m) => [m.partition, m.from, m.to])).toEqual([
      [0, '40', '40'],
      [1, undefined, '50'],
    ]);
    expect(cluster.committed.g.t).toEqual({ 0: '40', 1: '50' });
  });

  test('GIVEN a dry run WHEN migrated THEN nothing is committed', async () => {
    resetCluster({ topics: { t: [{ low: '0', high: '10' }] }, committed: { 'connect-c': { t: { 0: '5' } } } });
    const result = await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }], dryRun: true });
    expect(result.committed).toBe(false);
    expect(cluster.setOffsetsCalls).toEqual([]);
  });

  // The log start is committed for a partition whose connector offset is below it (what the connector's consumer,
  // auto.offset.reset=earliest, would read next), not the out-of-range offset.
  test('GIVEN a connector offset below the log start (retention) WHEN migrated THEN the log start is committed', async () => {
    resetCluster({ topics: { t: [{ low: '30', high: '100' }] }, committed: { 'connect-c': { t: { 0: '10' } } } });
    await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] });
    expect(cluster.committed.g.t[0]).toBe('30');
  });

  // A partition added after the connector's last commit (the connector committed other partitions of the topic) gets
  // its log start, as the connector (auto.offset.reset=earliest) would have read it, not the mapping's StartingPosition.
  test('GIVEN a partition added after the connector committed WHEN migrated THEN its log start is committed', async () => {
    resetCluster({
      topics: {
        t: [
          { low: '0', high: '100' },
          { low: '0', high: '7' },
        ],
      },
      committed: { 'connect-c': { t: { 0: '60' } } },
    });
    await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] });
    expect(cluster.committed.g.t[1]).toBe('0');
  });

  // The connector group's offsets for topics not given are named, not silently left.
  test('GIVEN the connector group has offsets for a topic not given WHEN migrated THEN the result names that topic', async () => {
    resetCluster({
      topics: { t: [{ low: '0', high: '10' }], other: [{ low: '0', high: '10' }] },
      committed: { 'connect-c': { t: { 0: '5' }, other: { 0: '3' } } },
    });
    const result = await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] });
    expect(JSON.stringify(result)).toContain('other');
  });

  // After committing, the connector's group is described again and its offsets compared with those copied: a member
  // that joined (a task restarted) or a moved offset is reported (records past `to` would be delivered twice).
  test('GIVEN a connector task joining between the check and the commit WHEN migrated THEN it is reported, not silently passed', async () => {
    resetCluster({
      topics: { t: [{ low: '0', high: '10' }] },
      committed: { 'connect-c': { t: { 0: '5' } } },
      afterDescribe: () => {
        cluster.members['connect-c'] = 1;
      },
    });
    await expect(migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] })).rejects.toThrow(
      /connect-c/,
    );
  });

  test('GIVEN moves WHEN reported THEN each names from, to and lag per partition', async () => {
    resetCluster({ topics: { t: [{ low: '0', high: '10' }] }, committed: { 'connect-c': { t: { 0: '5' } } } });
    let reported: PartitionMove[] = [];
    await migrateOffsets({ kafka: KAFKA, connector: 'c', groups: [{ topic: 't', groupId: 'g' }] }, (m) => (reported = m));
    expect(reported).toEqual([expect.objectContaining({ topic: 't', partition: 0, from: undefined, to: '5', lag: '5' })]);
  });
});
