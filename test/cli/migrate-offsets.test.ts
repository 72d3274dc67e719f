/** migrate offsets: its flags, the groups a template gives, and the table it prints (no broker). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseMigrateOffsetsArgs, templateGroups } from '../../cli/migrate/offsets-options';
import { formatMoves, migrateOffsets, MigrateOffsetsError } from '../../cli/migrate/offsets';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-offsets-unit-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function template(resources: Record<string, unknown>): string {
  const file = path.join(dir, `t${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify({ Resources: resources }));
  return file;
}
const mapping = (topics: unknown[], config?: Record<string, unknown>, servers = ['b1:9092']) => ({
  Type: 'AWS::Lambda::EventSourceMapping',
  Properties: {
    Topics: topics,
    SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: servers } },
    ...(config ? { SelfManagedKafkaEventSourceConfig: config } : {}),
  },
});

describe('parseMigrateOffsetsArgs', () => {
  test('--group pairs, the connector, the auth flags as local takes them', () => {
    // GIVEN / WHEN
    const { options } = parseMigrateOffsetsArgs([
      '--connector',
      'orders-sink',
      '--group',
      'orders=orders-mapping',
      '--group',
      'pay.ments=a=b',
      '--bootstrap-servers',
      'b1:9096,b2:9096',
      '--sasl',
      'scram-sha-512',
      '--username',
      'u',
      '--password',
      'p',
      '--tls',
      '--dry-run',
    ]);
    // THEN
    expect(options.connector).toBe('orders-sink');
    expect(options.groups).toEqual([
      { topic: 'orders', groupId: 'orders-mapping' },
      { topic: 'pay.ments=a', groupId: 'b' },
    ]);
    expect(options.kafka.brokers).toEqual(['b1:9096', 'b2:9096']);
    expect(options.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(options.kafka.ssl).toBeTruthy();
    expect(options).toMatchObject({ dryRun: true, force: false });
  });

  test('--msk-iam: OAUTHBEARER over TLS in the given region', () => {
    const { options } = parseMigrateOffsetsArgs([
      '--connector',
      'c',
      '--group',
      't=g',
      '--bootstrap-servers',
      'b:9098',
      '--msk-iam',
      '--region',
      'eu-west-1',
    ]);
    expect(options.kafka.ssl).toBe(true);
    expect(options.kafka.sasl).toMatchObject({ mechanism: 'oauthbearer' });
  });

  test('a template gives each mapping topic and group, and its bootstrap servers; --group wins for its topic', () => {
    const file = template({
      A: mapping(['orders'], { ConsumerGroupId: 'orders-g' }),
      B: mapping(['payments'], { ConsumerGroupId: 'payments-g' }),
      Q: { Type: 'AWS::SQS::Queue' },
    });
    const { options, notices } = parseMigrateOffsetsArgs(['--connector', 'c', '--template', file, '--group', 'payments=other']);
    expect(options.groups).toEqual([
      { topic: 'payments', groupId: 'other' },
      { topic: 'orders', groupId: 'orders-g' },
    ]);
    expect(options.kafka.brokers).toEqual(['b1:9092']);
    expect(notices).toEqual(['B: topic "payments" given by --group']);
  });

  test.each([
    [['--group', 't=g', '--bootstrap-servers', 'b:1'], /--connector is required/],
    [['--connector', 'c', '--bootstrap-servers', 'b:1'], /give the mappings' groups/],
    [['--connector', 'c', '--group', 't=g'], /--bootstrap-servers is required/],
    [['--connector', 'c', '--group', 'tg', '--bootstrap-servers', 'b:1'], /--group must be TOPIC=GROUP_ID, got "tg"/],
    [['--connector', 'c', '--group', 't=', '--bootstrap-servers', 'b:1'], /--group must be TOPIC=GROUP_ID/],
    [['--connector', 'c', '--group', 't=g', '--bootstrap-servers', 'b:1', '--msk-iam', '--sasl', 'plain'], /not both/],
  ])('fails on %j', (args, message) => {
    expect(() => parseMigrateOffsetsArgs(args)).toThrow(message);
  });
});

describe('templateGroups', () => {
  test('fails for a mapping without ConsumerGroupId, naming it and what to give', () => {
    const file = template({ Orders: mapping(['orders']) });
    expect(() => templateGroups(file, new Set())).toThrow(
      /Orders \(topic "orders"\) has no ConsumerGroupId: the mapping would use its UUID.*--group orders=GROUP_ID/,
    );
  });

  test('fails for a ConsumerGroupId or topic resolved at deploy time', () => {
    const file = template({
      Orders: mapping(['orders'], { ConsumerGroupId: { Ref: 'GroupParam' } }),
      Other: mapping([{ Ref: 'TopicParam' }], { ConsumerGroupId: 'g' }),
    });
    expect(() => templateGroups(file, new Set())).toThrow(
      /Orders \(topic "orders"\): its ConsumerGroupId is resolved at deploy time.*Other: its topic is resolved/,
    );
  });

  test('an MSK mapping (AmazonManagedKafkaEventSourceConfig) too; a group given by --group needs no literal one', () => {
    const file = template({
      Msk: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          Topics: ['t1'],
          EventSourceArn: { Ref: 'Cluster' },
          AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'g1' },
        },
      },
      Unpinned: mapping(['t2']),
    });
    expect(templateGroups(file, new Set(['t2']))).toMatchObject({ groups: [{ topic: 't1', groupId: 'g1' }] });
  });

  test('fails for a template without a Kafka mapping', () => {
    expect(() => templateGroups(template({ Q: { Type: 'AWS::SQS::Queue' } }), new Set())).toThrow(
      /no Kafka event source mapping/,
    );
  });
});

describe('migrateOffsets', () => {
  test.each([
    [[], /no topic to migrate/],
    [
      [
        { topic: 't', groupId: 'g' },
        { topic: 't', groupId: 'h' },
      ],
      /topic "t" is given twice/,
    ],
    [[{ topic: 't', groupId: 'connect-c' }], /the connector's own group connect-c/],
  ])('fails before connecting for groups %j', async (groups, message) => {
    const run = migrateOffsets({ kafka: { brokers: ['127.0.0.1:1'] }, connector: 'c', groups });
    await expect(run).rejects.toThrow(MigrateOffsetsError);
    await expect(run).rejects.toThrow(message);
  });
});

test('--connector-group: the group of a connector that overrides its group.id', async () => {
  const { options } = parseMigrateOffsetsArgs([
    '--connector',
    'c',
    '--connector-group',
    'custom',
    '--group',
    't=custom',
    '--bootstrap-servers',
    'b:1',
  ]);
  expect(options.connectorGroup).toBe('custom');
  await expect(migrateOffsets(options)).rejects.toThrow(/the connector's own group custom/);
});

describe('formatMoves', () => {
  test('from, to, high watermark, lag; a partition added since, one below its log start; backwards and unchanged rows', () => {
    const lines = formatMoves([
      { topic: 'o', partition: 0, groupId: 'g', to: '45', highWatermark: '100', logStart: '0', lag: '55', backwards: false },
      {
        topic: 'o',
        partition: 1,
        groupId: 'g',
        from: '90',
        to: '45',
        highWatermark: '100',
        logStart: '0',
        lag: '55',
        backwards: true,
      },
      {
        topic: 'o',
        partition: 2,
        groupId: 'g',
        from: '7',
        to: '7',
        highWatermark: '9',
        logStart: '0',
        lag: '2',
        backwards: false,
      },
      {
        topic: 'o',
        partition: 3,
        groupId: 'g',
        to: '0',
        highWatermark: '3',
        logStart: '0',
        lag: '3',
        backwards: false,
        adjusted: 'new-partition',
      },
      {
        topic: 'o',
        partition: 4,
        groupId: 'g',
        to: '10',
        highWatermark: '30',
        logStart: '10',
        lag: '20',
        backwards: false,
        adjusted: 'below-log-start',
        connectorOffset: '5',
      },
    ]);
    expect(lines[0]).toMatch(/^topic-partition +group +from +to +high watermark +lag$/);
    expect(lines[1]).toMatch(/^o-0 +g +none +45 +100 +55$/);
    expect(lines[2]).toMatch(/^o-1 +g +90 +45 +100 +55 +BACKWARDS$/);
    expect(lines[3]).toMatch(/unchanged$/);
    expect(lines[5]).toMatch(
      /^o-4 +g +none +10 +30 +20 +the connector's 5 is below the log start: retention deleted 5 record\(s\) the connector had not taken$/,
    );
    expect(lines[4]).toMatch(
      /^o-3 +g +none +0 +3 +3 +the connector committed none \(a partition added since\): from its log start$/,
    );
  });
});
