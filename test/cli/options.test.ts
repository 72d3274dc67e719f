import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildExampleStacks } from '../../bin/stacks';
import { parseCli, parseCommand } from '../../cli/cli';
import { LocalEsmConfigError, validateOptions } from '../../cli/kafka/esm';
import { validateKinesisOptions } from '../../cli/kinesis/esm';

const base = { kafka: { brokers: ['127.0.0.1:9092'] }, topics: ['t'], functionName: 'f' };

describe('local event source mapping options', () => {
  test.each([
    [{ batchSize: 0 }, /batchSize must be an integer from 1 to 10000, got 0/],
    [{ batchSize: 10001 }, /batchSize .* got 10001/],
    [{ maxBatchingWindowSeconds: 301 }, /maxBatchingWindowSeconds must be from 0 to 300, got 301/],
    [{ retryAttempts: -2 }, /retryAttempts must be -1 .* got -2/],
    [{ maximumRecordAgeSeconds: 59 }, /maximumRecordAgeSeconds must be -1 or 60 to 604800, got 59/],
    [{ startingPosition: 'AT_TIMESTAMP' }, /startingPositionTimestamp is required/],
    [{ topics: [] }, /at least one topic/],
    [{ handler: 'x.handler' }, /exactly one of functionName .* or handler/],
    [{ stallTimeoutSeconds: -1 }, /stallTimeoutSeconds must be 0 \(no watch\) or more seconds, got -1/],
  ])('fails with LocalEsmConfigError for %j', (bad, message) => {
    expect(() => validateOptions({ ...base, ...bad } as any)).toThrow(LocalEsmConfigError);
    expect(() => validateOptions({ ...base, ...bad } as any)).toThrow(message);
  });

  test.each([[1], [10000]])('accepts batchSize %d (0 and 10001 fail above)', (batchSize) => {
    expect(() => validateOptions({ ...base, batchSize })).not.toThrow();
  });

  test('flags map to options; timestamps in seconds become milliseconds', () => {
    const o = parseCli([
      '--bootstrap-servers',
      'a:1,b:2',
      '--topic',
      't1',
      '--topic',
      't2',
      '--function-name',
      'f',
      '--batch-size',
      '10',
      '--batching-window',
      '2',
      '--starting-position',
      'AT_TIMESTAMP',
      '--starting-position-timestamp',
      '1700000000',
      '--bisect',
      '--retry-attempts',
      '3',
      '--on-failure',
      'kafka://dlq',
      '--event-source-arn',
      'arn:aws:kafka:us-east-1:1:cluster/c/u',
      '--sasl',
      'scram-sha-512',
      '--username',
      'u',
      '--password',
      'p',
      '--tls',
      '--stall-timeout',
      '30',
    ]);
    expect(o).toMatchObject({
      kafka: { brokers: ['a:1', 'b:2'], sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' }, ssl: {} },
      topics: ['t1', 't2'],
      functionName: 'f',
      batchSize: 10,
      maxBatchingWindowSeconds: 2,
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: 1_700_000_000_000,
      bisectBatchOnFunctionError: true,
      retryAttempts: 3,
      onFailure: 'kafka://dlq',
      stallTimeoutSeconds: 30,
      eventSource: { eventSourceArn: 'arn:aws:kafka:us-east-1:1:cluster/c/u', bootstrapServers: 'a:1,b:2' },
    });
  });

  test.each([
    [['--topic', 't', '--function-name', 'f'], /--bootstrap-servers .* is required/],
    [['--bootstrap-servers', 'a:1', '--batch-size', 'ten'], /--batch-size must be a number, got "ten"/],
    [['--bootstrap-servers', 'a:1', '--stall-timeout', 'soon'], /--stall-timeout must be a number, got "soon"/],
    [['--bootstrap-servers', 'a:1', '--sasl', 'gssapi'], /--sasl must be scram-sha-256, scram-sha-512 or plain, got "gssapi"/],
    [
      ['--bootstrap-servers', 'a:1', '--sasl', 'scram-sha-512', '--username', 'u'],
      /--sasl scram-sha-512 needs --username and --password/,
    ],
    [['--bootstrap-servers', 'a:1', '--cert-file', 'c.pem'], /--cert-file and --key-file go together/],
    [['--bootstrap-servers', 'a:1', '--msk-iam', '--sasl', 'plain'], /--msk-iam or --sasl, not both/],
  ])('fails on bad flags %j', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(message);
  });

  test('--msk-iam: SASL OAUTHBEARER over TLS with a token signed for the region, as the mapping authenticates to MSK', async () => {
    // GIVEN AWS credentials in the environment
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: '' });
    try {
      // WHEN local is given --msk-iam and a region
      const o = parseCli([
        '--bootstrap-servers',
        'b-1.msk:9098',
        '--topic',
        't',
        '--function-name',
        'f',
        '--msk-iam',
        '--region',
        'eu-west-1',
      ]);
      // THEN the client speaks TLS and OAUTHBEARER, its token the signer's for that region
      expect(o.kafka).toMatchObject({ ssl: true, sasl: { mechanism: 'oauthbearer' } });
      const { value } = await (o.kafka.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider();
      expect(Buffer.from(value, 'base64url').toString('utf8')).toMatch(
        /^https:\/\/kafka\.eu-west-1\.amazonaws\.com\/\?Action=kafka-cluster%3AConnect/,
      );
    } finally {
      process.env = saved;
    }
  });

  describe('--template: the settings of a synthesized event source mapping', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-template-'));
    const templates: Record<string, string> = {};
    beforeAll(() => {
      for (const stack of buildExampleStacks(new App())) {
        templates[stack.stackName] = path.join(dir, stack.templateFile);
        fs.writeFileSync(templates[stack.stackName], JSON.stringify(Template.fromStack(stack).toJSON()));
      }
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const local = ['--bootstrap-servers', '127.0.0.1:9092', '--handler', 'h.handler'];

    test('an MSK mapping gives its topic, consumer group, starting position, cluster ARN and Kafka on-failure topic', () => {
      // GIVEN the example app's MSK IAM stack, synthesized WHEN the emulator reads it, with local brokers as flags
      const notices: string[] = [];
      const o = parseCli(['--template', templates.KafkaLambdaMskIam, ...local], (l) => notices.push(l));
      // THEN it consumes as the deployed mapping will, and builds aws:kafka events naming the cluster
      expect(o).toMatchObject({
        topics: ['clicks'],
        consumerGroupId: 'KafkaLambdaMskIam-Clicks-D06AD925',
        startingPosition: 'TRIM_HORIZON',
        onFailure: 'kafka://clicks-dead-letters',
        kafka: { brokers: ['127.0.0.1:9092'] },
        eventSource: {
          eventSourceArn: expect.stringMatching(/^arn:aws:kafka:us-east-1:111122223333:cluster\/orders\//),
          bootstrapServers: '127.0.0.1:9092',
        },
      });
      expect(notices).toEqual([]);
    });

    test('fails when the template holds several mappings and --mapping does not choose one, naming them', () => {
      // GIVEN the self-managed mTLS stack: one mapping per topic WHEN read without --mapping THEN the error lists the ids
      expect(() => parseCli(['--template', templates.KafkaLambdaSelfManagedMtls, ...local])).toThrow(
        /holds 2 Kafka or Kinesis event source mappings; choose one with --mapping \(PaymentsEventSourceMappingpayments\w+, PaymentsEventSourceMappingrefunds\w+\)/,
      );
      expect(() => parseCli(['--template', templates.KafkaLambdaSelfManagedMtls, '--mapping', 'Nope', ...local])).toThrow(
        /has no Kafka or Kinesis event source mapping "Nope"/,
      );
      expect(() => parseCli(['--mapping', 'X', ...local])).toThrow(/give --template too/);
    });

    test('a chosen mapping gives its settings; what resolves at deploy time or is not emulated is reported; flags win', () => {
      // GIVEN the provisioned-mode stack (retries, bisect, max age, partial batch response, a filter, a schema registry, a created queue)
      const [id] = Object.entries<any>(
        JSON.parse(fs.readFileSync(templates.KafkaLambdaProvisionedSchemaRegistry, 'utf8')).Resources,
      ).find(([, r]) => r.Type === 'AWS::Lambda::EventSourceMapping')!;
      const notices: string[] = [];
      // WHEN read with --mapping, a flag overriding the batch size and the registry secret the template resolves at deploy time
      const secret = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-AbCdEf';
      const o = parseCli(
        [
          '--template',
          templates.KafkaLambdaProvisionedSchemaRegistry,
          '--mapping',
          id,
          '--batch-size',
          '7',
          '--schema-registry-access',
          `BASIC_AUTH=${secret}`,
          ...local,
        ],
        (l) => notices.push(l),
      );
      // THEN the template's settings are taken, the flag wins
      expect(o).toMatchObject({
        batchSize: 7,
        maxBatchingWindowSeconds: 5,
        retryAttempts: 3,
        maximumRecordAgeSeconds: 21600,
        bisectBatchOnFunctionError: true,
        reportBatchItemFailures: true,
      });
      expect(o.filters).toEqual(['{"value":{"type":["reading"]}}']);
      expect(o.onFailure).toBeUndefined();
      // and its schema registry, with the secret from the flag
      expect(o.schemaRegistry).toEqual({
        uri: 'https://psrc-12345.us-east-1.aws.confluent.cloud',
        eventRecordFormat: 'JSON',
        attributes: ['VALUE'],
        access: { BASIC_AUTH: secret },
      });
      // and the user is told what was left out
      expect(notices).toEqual([
        'template: DestinationConfig.OnFailure.Destination is resolved at deploy time; give it as a flag',
        "template: SourceAccessConfigurations BASIC_AUTH: give the broker's auth as flags (--sasl, --tls, certificates, or --msk-iam)",
        'template: SelfManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs BASIC_AUTH secret is resolved at deploy time; give --schema-registry-access BASIC_AUTH=<secret ARN>',
      ]);
    });

    test("the Kinesis stack's mapping gives a Kinesis command with its batching, parallelization, retries and partial batch responses; the stream must be a flag", () => {
      // GIVEN the example app's Kinesis stack (a created stream read through an enhanced fan-out consumer)
      const notices: string[] = [];
      // WHEN read without --stream THEN it says the stream is needed
      expect(() => parseCommand(['--template', templates.KafkaLambdaKinesis, '--handler', 'h.handler'])).toThrow(
        /--stream .* is required: the template's stream is resolved at deploy time/,
      );
      // WHEN read with the local stream as a flag
      const c = parseCommand(
        [
          '--template',
          templates.KafkaLambdaKinesis,
          '--stream',
          'clicks',
          '--handler',
          'h.handler',
          '--checkpoint-file',
          'cp.json',
        ],
        (l) => notices.push(l),
      );
      // THEN it is a Kinesis command with the deployed mapping's settings
      expect(c).toEqual({
        kind: 'kinesis',
        options: expect.objectContaining({
          stream: 'clicks',
          batchSize: 500,
          maxBatchingWindowSeconds: 1,
          parallelizationFactor: 2,
          retryAttempts: 5,
          maximumRecordAgeSeconds: 21600,
          bisectBatchOnFunctionError: true,
          reportBatchItemFailures: true,
          startingPosition: 'TRIM_HORIZON',
          checkpointFile: 'cp.json',
          onFailure: undefined,
        }),
      });
      expect(notices).toEqual([
        'template: DestinationConfig.OnFailure.Destination is resolved at deploy time; give it as a flag',
        'template: EventSourceArn (the stream) is resolved at deploy time; give --stream',
        'template: EventSourceArn is an enhanced fan-out consumer: the emulator reads the stream with standard iterators (GetRecords)',
      ]);
      expect(() =>
        parseCli(['--template', templates.KafkaLambdaKinesis, '--stream', 'clicks', '--handler', 'h.handler']),
      ).toThrow(/settings of a Kinesis mapping/);
    });

    test('a literal stream ARN is read; a tumbling window is reported as not emulated', () => {
      // GIVEN a hand-written template with a Kinesis mapping naming its stream and a tumbling window
      const file = path.join(dir, 'kinesis-literal.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          Resources: {
            M: {
              Type: 'AWS::Lambda::EventSourceMapping',
              Properties: {
                EventSourceArn: 'arn:aws:kinesis:us-east-1:111122223333:stream/orders',
                StartingPosition: 'LATEST',
                TumblingWindowInSeconds: 60,
                FunctionName: 'f',
              },
            },
          },
        }),
      );
      const notices: string[] = [];
      // WHEN read THEN the stream comes from the template, and the window is named as not emulated
      expect(parseCommand(['--template', file, '--function-name', 'f'], (l) => notices.push(l))).toEqual({
        kind: 'kinesis',
        options: expect.objectContaining({
          stream: 'arn:aws:kinesis:us-east-1:111122223333:stream/orders',
          startingPosition: 'LATEST',
        }),
      });
      expect(notices).toEqual(['template: TumblingWindowInSeconds is not emulated']);
    });

    test('fails naming the file when it is not a template', () => {
      expect(() => parseCli(['--template', path.join(dir, 'missing.json'), ...local])).toThrow(
        /--template .*missing\.json: cannot read it as a CloudFormation template/,
      );
    });
  });
});

describe('local Kinesis event source mapping options', () => {
  test('flags map to a Kinesis command; the Kinesis endpoint defaults to --aws-endpoint', () => {
    const c = parseCommand([
      '--stream',
      's',
      '--function-name',
      'f',
      '--aws-endpoint',
      'http://127.0.0.1:5000',
      '--parallelization-factor',
      '3',
      '--starting-position',
      'AT_TIMESTAMP',
      '--starting-position-timestamp',
      '1700000000',
      '--report-batch-item-failures',
      '--on-failure',
      'arn:aws:sqs:us-east-1:1:q',
    ]);
    expect(c).toEqual({
      kind: 'kinesis',
      options: expect.objectContaining({
        stream: 's',
        functionName: 'f',
        kinesisEndpoint: 'http://127.0.0.1:5000',
        parallelizationFactor: 3,
        startingPosition: 'AT_TIMESTAMP',
        startingPositionTimestamp: 1_700_000_000_000,
        reportBatchItemFailures: true,
        onFailure: 'arn:aws:sqs:us-east-1:1:q',
      }),
    });
  });

  test.each([
    [{ parallelizationFactor: 0 }, /parallelizationFactor must be an integer from 1 to 10, got 0/],
    [{ onFailure: 'kafka://dlq' }, /onFailure of a Kinesis mapping must be an SQS, SNS or S3 ARN/],
    [{ batchSize: 10001 }, /batchSize .* got 10001/],
    [{ stream: '' }, /stream: a stream name or ARN is required/],
    [{ startingPosition: 'AT_TIMESTAMP' }, /startingPositionTimestamp is required/],
  ])('fails with LocalEsmConfigError for %j', (bad, message) => {
    expect(() => validateKinesisOptions({ stream: 's', functionName: 'f', ...bad } as any)).toThrow(LocalEsmConfigError);
    expect(() => validateKinesisOptions({ stream: 's', functionName: 'f', ...bad } as any)).toThrow(message);
  });
});
