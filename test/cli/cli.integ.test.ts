/**
 * The shipped command (bin cdk-kafka-lambda, build/cli/cdk-kafka-lambda.js), run from a directory
 * of its own so that nothing from this repository's node_modules can be resolved: what a user gets from npm.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Kafka, logLevel } from 'kafkajs';
import { buildExampleStacks } from '../../bin/stacks';
import * as te from '../../testenv';
import { waitFor } from './support';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const TARGETS = path.join(ROOT, 'test', 'fixtures', 'targets');

describe('cdk-kafka-lambda local (the shipped command)', () => {
  const env = te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-cli-'));
  const cli = path.join(dir, 'cdk-kafka-lambda.js');
  const children: ChildProcess[] = [];
  const fns: te.RunningLambda[] = [];

  beforeAll(async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    fs.copyFileSync(path.join(ROOT, pkg.bin['cdk-kafka-lambda']), cli);
    await admin.connect();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) process.kill(-c.pid!, 'SIGKILL');
    await admin.disconnect();
    await Promise.all(fns.map((f) => f.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the command under a pseudo-terminal (script(1)); exec: the command is script's child, so it alone gets a signal. */
  function onTerminal(command: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const child = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TERM: 'xterm' },
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    return { child, output: () => out, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  }

  test('--help prints the usage and exits 0; an unknown command or a bad flag exits 2 naming it', () => {
    // GIVEN the bundled command alone WHEN asked for help THEN it prints the usage on stdout
    const help = spawnSync(process.execPath, [cli, 'local', '--help'], { cwd: dir, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: cdk-kafka-lambda local --bootstrap-servers');
    // WHEN given an unknown command or a flag value that is not a number THEN it exits 2 and says what was wrong
    const unknown = spawnSync(process.execPath, [cli, 'consume'], { cwd: dir, encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "consume"');
    const bad = spawnSync(
      process.execPath,
      [cli, 'local', '--bootstrap-servers', 'b:1', '--topic', 't', '--function-name', 'f', '--batch-size', 'ten'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--batch-size must be a number, got "ten"');
  });

  test('on a terminal it consumes, invokes, commits and shows records/s and lag per partition; SIGTERM stops it cleanly', async () => {
    // GIVEN 30 records on two partitions and a function under the Lambda emulator
    const topic = `cli-${randomUUID()}`;
    await te.createTopic(topic, 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 30 }, (_, i) => ({ partition: i % 2, value: `m${i}` })) });
    await producer.disconnect();
    const name = `cli-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.ok' }));
    const groupId = `cli-${randomUUID()}`;
    // WHEN the command runs under a pseudo-terminal (script(1)), from a directory without node_modules
    const command = [
      process.execPath,
      cli,
      'local',
      '--bootstrap-servers',
      env.kafka.bootstrap.plaintext,
      '--topic',
      topic,
      '--function-name',
      name,
      '--lambda-endpoint',
      env.lambda.endpoint,
      '--region',
      env.region,
      '--consumer-group-id',
      groupId,
      '--batch-size',
      '10',
      '--batching-window',
      '0',
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const { child, output, exited } = onTerminal(command);
    // THEN the group commits every record
    await waitFor(
      'commit',
      async () =>
        (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions
          .map((p) => Number(p.offset))
          .sort()
          .join() === '15,15',
      60_000,
    );
    const invocations = (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
    expect(invocations.flatMap((e) => Object.values<any[]>(e.records).flat()).length).toBe(30);
    expect(invocations.every((e) => Object.values<any[]>(e.records).flat().length <= 10)).toBe(true);
    // and the progress line, rewritten in place, shows the rate and the lag of each partition
    await waitFor('a progress line with lag 0 on both partitions', () => output().includes(`${topic}-0:0 ${topic}-1:0`), 10_000);
    expect(output()).toContain(`consuming ${topic} as group ${groupId}`);
    expect(output()).toMatch(/\r\x1b\[K\d+ records\/s {2}committed 30 {2}on-failure 0 {2}lag /);
    // WHEN it is stopped THEN it leaves the group and exits 0
    const pid = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim());
    process.kill(pid, 'SIGTERM');
    expect(await exited).toBe(0);
    await waitFor('the group is empty', async () => (await admin.describeGroups([groupId])).groups[0].state === 'Empty', 30_000);
  });

  test('runs a handler module in-process (--handler) and takes its settings from a synthesized template (--template)', async () => {
    // GIVEN 5 records, a handler module beside the command that writes what it receives, and a template whose
    // mapping names the topic, the consumer group and a batch size of 2
    const topic = `cli-${randomUUID()}`;
    await te.createTopic(topic, 1);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    const seen = path.join(dir, `${topic}.jsonl`);
    fs.writeFileSync(
      path.join(dir, 'handler.js'),
      `const fs = require('fs');
exports.handler = async (event) => { fs.appendFileSync(${JSON.stringify(seen)}, JSON.stringify(event) + '\\n'); return {}; };\n`,
    );
    const groupId = `cli-${randomUUID()}`;
    const template = path.join(dir, `${topic}.template.json`);
    fs.writeFileSync(
      template,
      JSON.stringify({
        Resources: {
          Mapping: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: {
              Topics: [topic],
              BatchSize: 2,
              StartingPosition: 'TRIM_HORIZON',
              SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: groupId },
              SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['kafka.example.internal:9096'] } },
              FunctionName: { 'Fn::GetAtt': ['Fn', 'Arn'] },
            },
          },
        },
      }),
    );
    // WHEN the command runs with local brokers as a flag
    const child = spawn(
      process.execPath,
      [
        cli,
        'local',
        '--template',
        template,
        '--bootstrap-servers',
        env.kafka.bootstrap.plaintext,
        '--handler',
        './handler.handler',
        '--batching-window',
        '0',
      ],
      { cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // THEN the group of the template commits all 5 records, in events of at most 2 records
    await waitFor(
      'commit',
      async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset === '5',
      60_000,
    );
    const events = fs
      .readFileSync(seen, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.records[`${topic}-0`].length)).toEqual([2, 2, 1]);
    expect(events[0]).toMatchObject({ eventSource: 'SelfManagedKafka', bootstrapServers: env.kafka.bootstrap.plaintext });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  test("runs the example app's Kinesis mapping (--template) against a Kinesis API; on a terminal it shows records/s and iterator age per shard", async () => {
    // GIVEN the example app's Kinesis stack, synthesized, 30 records on a 2-shard stream (moto), a function under the Lambda emulator
    const stack = buildExampleStacks(new App()).find((st) => st.stackName === 'KafkaLambdaKinesis')!;
    const template = path.join(dir, 'KafkaLambdaKinesis.template.json');
    fs.writeFileSync(template, JSON.stringify(Template.fromStack(stack).toJSON()));
    const kinesis = new KinesisClient({ ...te.awsClientConfig('kinesis'), requestHandler: new NodeHttpHandler() });
    const sqs = new SQSClient(te.awsClientConfig('sqs'));
    const stream = `cli-${randomUUID().slice(0, 8)}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    const puts = (
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: stream,
          Records: Array.from({ length: 30 }, (_, i) => ({ PartitionKey: `user-${i}`, Data: Buffer.from(`click ${i}`) })),
        }),
      )
    ).Records!;
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `cli-${randomUUID()}` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] })))
      .Attributes!.QueueArn!;
    kinesis.destroy();
    sqs.destroy();
    const name = `cli-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.ok' }));
    const checkpoints = path.join(dir, `${stream}.checkpoints.json`);
    // WHEN the command runs under a pseudo-terminal with the template and what only a deployment resolves as flags
    const command = [
      process.execPath,
      cli,
      'local',
      '--template',
      template,
      '--stream',
      stream,
      '--kinesis-endpoint',
      env.moto.endpoint,
      '--aws-endpoint',
      env.moto.endpoint,
      '--on-failure',
      queueArn,
      '--function-name',
      name,
      '--lambda-endpoint',
      env.lambda.endpoint,
      '--region',
      env.region,
      '--checkpoint-file',
      checkpoints,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const { child, output, exited } = onTerminal(command);
    // THEN each shard is checkpointed at its last record
    const last = new Map<string, string>();
    for (const r of puts)
      if (!last.has(r.ShardId!) || BigInt(r.SequenceNumber!) > BigInt(last.get(r.ShardId!)!))
        last.set(r.ShardId!, r.SequenceNumber!);
    expect(last.size).toBe(2);
    await waitFor(
      'both shards checkpointed at their last record',
      () =>
        fs.existsSync(checkpoints) &&
        [...last].every(([shard, seq]) => JSON.parse(fs.readFileSync(checkpoints, 'utf8')).shards[shard]?.sequenceNumber === seq),
      60_000,
    );
    // and the function got every record once in aws:kinesis events
    const events = (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
    expect(
      events
        .flatMap((e) => e.Records)
        .map((r: any) => r.eventID)
        .sort(),
    ).toEqual(puts.map((r) => `${r.ShardId}:${r.SequenceNumber}`).sort());
    expect(events.every((e) => e.Records.every((r: any) => r.eventSource === 'aws:kinesis'))).toBe(true);
    // and the user is told what the template cannot give and what is read differently
    expect(output()).toContain('template: EventSourceArn (the stream) is resolved at deploy time; give --stream');
    expect(output()).toContain(
      'template: EventSourceArn is an enhanced fan-out consumer: the emulator reads the stream with standard iterators (GetRecords)',
    );
    expect(output()).toContain('template: DestinationConfig.OnFailure.Destination is resolved at deploy time; give it as a flag');
    expect(output()).toContain(`reading ${stream}, checkpoints in ${checkpoints}`);
    // and the progress line shows the rate, the records done and each shard's iterator age
    await waitFor(
      'a progress line with both shards',
      () =>
        /\r\x1b\[K\d+ records\/s {2}committed 30 {2}on-failure 0 {2}iterator age shardId-000000000000:\d+\.\ds shardId-000000000001:\d+\.\ds/.test(
          output(),
        ),
      10_000,
    );
    // WHEN it is stopped THEN it exits 0
    const pid = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim());
    process.kill(pid, 'SIGTERM');
    expect(await exited).toBe(0);
  });
});
