/**
 * cdk-kafka-lambda migrate offsets against a real Kafka Connect worker (standalone, connect-runtime from Maven
 * Central) on the test broker: a recording sink connector (test/fixtures/connect) takes part of two topics and
 * commits to connect-<name>; its offsets are copied into the two mappings' groups; the local mappings deliver the
 * rest to a target under the Lambda emulator.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Admin, Kafka, logLevel } from 'kafkajs';
import * as te from '../../testenv';
import { compileConnector, ConnectWorker, startConnectWorker } from '../../testenv/connect';
import { offsetsCommand } from '../../cli/migrate/offsets-command';
import { settingsFromTemplate } from '../../cli/template';
import { KafkaAuth, KafkaCluster, LambdaSinkConnector } from '../../lib';
import type { LocalEventSourceMapping } from '../../cli/kafka/esm';
import { startLocalMapping, waitFor } from './support';

jest.setTimeout(120_000);

const CONNECTOR_SOURCE = path.join(__dirname, '..', 'fixtures', 'connect', 'RecordingSink.java');
const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const PARTITIONS = 2;
const PER_PARTITION = 100;
/** The connector takes this many records of each partition, and its commits leave out the last TAIL of them. */
const TAKEN = 50;
const TAIL = 5;
const COMMITTED = TAKEN - TAIL;

describe('cdk-kafka-lambda migrate offsets', () => {
  const env = te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const id = randomUUID().slice(0, 8);
  const connector = `migrate-${id}`;
  const topics = [`migrate-orders-${id}`, `migrate-payments-${id}`];
  const groups = topics.map((t) => `${t}-mapping`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-offsets-'));
  const output = path.join(dir, 'connector-output.txt');
  const template = path.join(dir, 'Connector.template.json');
  const mappings: LocalEventSourceMapping[] = [];
  let admin: Admin;
  let worker: ConnectWorker | undefined;
  let target: te.RunningLambda;
  let mappingIds: string[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await Promise.all(topics.map((t) => te.createTopic(t, PARTITIONS)));
    const producer = kafka.producer();
    await producer.connect();
    for (const topic of topics)
      await producer.send({
        topic,
        messages: Array.from({ length: PARTITIONS * PER_PARTITION }, (_, n) => ({
          partition: n % PARTITIONS,
          value: JSON.stringify({ n }),
        })),
      });
    await producer.disconnect();
    // Synthesized first: it holds the event loop for seconds, which would stall the polls of the processes starting.
    const synthesized = connectorStack(topics, groups, env.kafka.bootstrap.plaintext);
    fs.writeFileSync(template, JSON.stringify(synthesized));
    mappingIds = Object.keys(synthesized.Resources).filter(
      (logicalId) => synthesized.Resources[logicalId].Type === 'AWS::Lambda::EventSourceMapping',
    );
    const [fn, compiled] = await Promise.all([
      te.startLambda({ name: `migrate-target-${id}`, dir: TARGETS, handler: 'index.echo' }),
      compileConnector([CONNECTOR_SOURCE]),
    ]);
    target = fn;
    worker = await startConnectWorker({
      name: connector,
      connectorClass: 'ckl.connect.RecordingSink',
      classesDir: compiled.classesDir,
      offsetFlushIntervalMs: 300,
      config: {
        topics: topics.join(','),
        'output.file': output,
        'records.per.partition': TAKEN,
        'uncommitted.tail': TAIL,
      },
    });
    // The connector has taken its records and committed all it will commit.
    await waitFor('the connector to take its records', () => outputLines().length === topics.length * PARTITIONS * TAKEN, 60_000);
    await waitFor('the connector to commit', async () => allAt(await committed(`connect-${connector}`), COMMITTED), 60_000);
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    await worker?.stop();
    await target?.stop();
    await admin?.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** "topic-partition@offset" of each record the connector took (its output file). */
  const outputLines = () =>
    fs.existsSync(output)
      ? fs
          .readFileSync(output, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
          .map(([t, p, o]) => `${t}-${p}@${o}`)
      : [];

  /** A group's committed offset per "topic-partition" ('-1': none). */
  async function committed(groupId: string, of = topics): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const t of await admin.fetchOffsets({ groupId, topics: of }))
      for (const p of t.partitions) out[`${t.topic}-${p.partition}`] = p.offset;
    return out;
  }
  const allAt = (offsets: Record<string, string>, n: number) =>
    Object.keys(offsets).length === topics.length * PARTITIONS && Object.values(offsets).every((o) => o === String(n));

  /** The command as the CLI runs it: stdout, stderr, exit status. */
  async function migrate(...args: string[]): Promise<{ out: string; err: string; code: number }> {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      await offsetsCommand(['--connector', connector, '--bootstrap-servers', env.kafka.bootstrap.plaintext, ...args]);
      return { out: out.join(''), err: err.join(''), code: Number(process.exitCode ?? 0) };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      process.exitCode = before;
    }
  }
  const groupFlags = topics.flatMap((t, i) => ['--group', `${t}=${groups[i]}`]);
  /** Each mapping group's committed offsets of its topic. */
  const targetOffsets = async () => ({
    ...(await committed(groups[0], [topics[0]])),
    ...(await committed(groups[1], [topics[1]])),
  });

  test('fails while the connector runs or is paused, naming its group and members; runs once it is stopped', async () => {
    const refusal = new RegExp(
      `connect-${connector} has 1 active member\\(s\\): connector-consumer-${connector}-0.*stop the connector`,
    );
    try {
      const running = await migrate(...groupFlags);
      expect(running.code).toBe(1);
      expect(running.err).toMatch(refusal);
      // Paused, the connector's tasks stay in the group (their consumers keep polling, paused): refused still.
      await connectorState('pause', 'PAUSED');
      const paused = await migrate(...groupFlags, '--dry-run');
      expect(paused.code).toBe(1);
      expect(paused.err).toMatch(refusal);
      expect(Object.values(await targetOffsets())).toEqual(Array(4).fill('-1'));
      // Stopped (PUT /connectors/NAME/stop): its tasks commit on their way out and leave the group.
      await connectorState('stop', 'STOPPED');
      await waitFor('the connector group empty', async () => {
        const { groups: described } = await admin.describeGroups([`connect-${connector}`]);
        return described[0].members.length === 0;
      });
    } finally {
      await worker!.stop();
      worker = undefined;
    }
    expect(allAt(await committed(`connect-${connector}`), COMMITTED)).toBe(true);
  });

  /** PUT /connectors/NAME/<action> on the worker's REST API, then poll its status until the connector is in `state`. */
  async function connectorState(action: 'pause' | 'stop', state: string): Promise<void> {
    const r = await fetch(`http://127.0.0.1:${worker!.restPort}/connectors/${connector}/${action}`, { method: 'PUT' });
    expect(r.status).toBeLessThan(300);
    await waitFor(`connector ${state}`, async () => (await worker!.status())?.connector.state === state);
  }

  test('a dry run prints from, to, high watermark and lag, and commits nothing; over SCRAM, PLAIN and mTLS too', async () => {
    const r = await migrate('--template', template, '--dry-run');
    expect(r.code).toBe(0);
    for (const t of topics)
      for (let p = 0; p < PARTITIONS; p++)
        expect(r.out).toMatch(
          new RegExp(`${t}-${p} +${t}-mapping +none +${COMMITTED} +${PER_PARTITION} +${PER_PARTITION - COMMITTED}\\n`),
        );
    expect(r.out).toMatch(/dry run: .*nothing committed/);
    // The same over SASL_SSL (SCRAM, PLAIN) and mTLS, with the flags `local` takes.
    const { files } = env.certs;
    const scram = env.kafka.scram['SCRAM-SHA-512'];
    // (--password=P: a generated password may start with '-', which parseArgs takes for an option.)
    for (const auth of [
      ['--sasl', 'scram-sha-512', `--username=${scram.username}`, `--password=${scram.password}`, '--ca-file', files.caCert],
      [
        '--sasl',
        'plain',
        `--username=${env.kafka.plain.username}`,
        `--password=${env.kafka.plain.password}`,
        '--ca-file',
        files.caCert,
      ],
      ['--ca-file', files.caCert, '--cert-file', files.clientChain, '--key-file', files.clientKey],
    ]) {
      const listener = auth[0] === '--sasl' ? env.kafka.bootstrap.saslSsl : env.kafka.bootstrap.ssl;
      const secured = await migrate('--template', template, '--dry-run', ...auth, '--bootstrap-servers', listener);
      expect({ code: secured.code, err: secured.err }).toEqual({ code: 0, err: '' });
      expect(secured.out).toBe(r.out);
    }
    const unknown = await migrate('--group', `no-such-topic-${id}=g`, '--dry-run');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(new RegExp(`no topic "no-such-topic-${id}" on the cluster`));
    expect(Object.values(await targetOffsets())).toEqual(Array(4).fill('-1'));
  });

  test("copies the connector's offsets into each mapping's group (--template)", async () => {
    const r = await migrate('--template', template);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/committed the offsets of connect-migrate-\w+ to 4 partition\(s\)/);
    expect(allAt(await targetOffsets(), COMMITTED)).toBe(true);
  });

  test('never moves a group backwards without --force; --force does', async () => {
    await admin.setOffsets({ groupId: groups[0], topic: topics[0], partitions: [{ partition: 0, offset: '90' }] });
    const refused = await migrate(...groupFlags);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(new RegExp(`backwards.*${groups[0]} ${topics[0]}-0 90 → ${COMMITTED}.*--force`));
    expect((await committed(groups[0], [topics[0]]))[`${topics[0]}-0`]).toBe('90');
    const forced = await migrate(...groupFlags, '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(new RegExp(`${topics[0]}-0 +${groups[0]} +90 +${COMMITTED} .*BACKWARDS`));
    expect(allAt(await targetOffsets(), COMMITTED)).toBe(true);
  });

  test('the mappings deliver every record from the committed offsets once; the uncommitted tail again, nothing lost', async () => {
    // What `local --template cdk.out/Connector.template.json --mapping ID` runs: each mapping's topic, group and
    // starting position from the template (TRIM_HORIZON: the copied offsets must win over it); the auth as flags.
    expect(mappingIds).toHaveLength(topics.length);
    for (const logicalId of mappingIds) {
      const { props } = settingsFromTemplate(template, logicalId);
      expect(props.startingPosition).toBe('TRIM_HORIZON');
      startLocalMapping(mappings, {
        topics: props.topics!,
        consumerGroupId: props.consumerGroupId,
        startingPosition: props.startingPosition,
        functionName: target.name,
        batchSize: 50,
      });
    }
    const expected = topics.length * PARTITIONS * (PER_PARTITION - COMMITTED);
    // Done when each mapping committed its topic's end: every batch was invoked before its commit.
    await waitFor('the mappings at the end of their topics', async () => allAt(await targetOffsets(), PER_PARTITION), 60_000);
    const got = await delivered();
    expect(got).toHaveLength(expected);
    expect(new Set(got).size).toBe(got.length); // once each
    // The connector's last commit, as the broker holds it, per topic-partition.
    const last = await committed(`connect-${connector}`);
    const offsetOf = (c: string) => Number(c.slice(c.lastIndexOf('@') + 1));
    const beforeCommit = (c: string) => offsetOf(c) < Number(last[c.slice(0, c.lastIndexOf('@'))]);
    expect(got.filter(beforeCommit)).toEqual([]); // none before the committed offsets
    const all = topics.flatMap((t) =>
      Array.from({ length: PARTITIONS * PER_PARTITION }, (_, n) => `${t}-${n % PARTITIONS}@${Math.floor(n / PARTITIONS)}`),
    );
    expect([...got].sort()).toEqual(all.filter((c) => !beforeCommit(c)).sort()); // every one from them
    const connectorCommitted = outputLines().filter(beforeCommit);
    expect(all.filter((c) => !got.includes(c) && !connectorCommitted.includes(c))).toEqual([]); // none lost
    // The connector's uncommitted tail: taken by it after its last commit, delivered again by the mappings.
    const tail = outputLines().filter((c) => !beforeCommit(c));
    expect(tail).toHaveLength(topics.length * PARTITIONS * TAIL);
    expect(tail.filter((c) => !got.includes(c))).toEqual([]);
    process.stderr.write(
      `migrate offsets: ${tail.length} records of the connector's uncommitted tail delivered again (${got.length} delivered, none lost)\n`,
    );

    // While a mapping runs, its group has members: refused.
    await waitFor('the mappings in their groups', async () => {
      const { groups: described } = await admin.describeGroups(groups);
      return described.every((g) => g.members.length > 0);
    });
    const running = await migrate(...groupFlags, '--force');
    expect(running.code).toBe(1);
    expect(running.err).toMatch(/active members: .*the mapping is running: disable it/);
  });

  /** Every record the target was given: "topic-partition@offset" (the raw SelfManagedKafka event). */
  async function delivered(): Promise<string[]> {
    return (await te.listInvocations(target.name)).flatMap((i) =>
      Object.values(JSON.parse(i.payload).records as Record<string, { topic: string; partition: number; offset: number }[]>)
        .flat()
        .map((r) => `${r.topic}-${r.partition}@${r.offset}`),
    );
  }
});

/**
 * The stack `migrate plan` writes for the connector, synthesized: a LambdaSinkConnector with a mapping per topic, each
 * group pinned (consumerGroupIds). Its SCRAM auth is not used here: `local` and `migrate offsets` take the auth as flags.
 */
function connectorStack(topics: string[], groups: string[], bootstrap: string): { Resources: Record<string, { Type: string }> } {
  const stack = new Stack(new App(), 'Connector', { env: { account: '111122223333', region: 'us-east-1' } });
  const target = new lambda.Function(stack, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.echo',
    timeout: Duration.seconds(30),
    code: lambda.Code.fromInline('exports.echo=async()=>[]'),
  });
  new LambdaSinkConnector(stack, 'Sink', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: [bootstrap] }),
    topics,
    target,
    auth: KafkaAuth.scram512(),
    consumerGroupIds: Object.fromEntries(topics.map((t, i) => [t, groups[i]])),
  });
  return Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
}
