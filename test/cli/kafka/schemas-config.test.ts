/**
 * The mapping's SchemaRegistryConfig for the local event source mapping: read from a template (literal values,
 * values resolved at deploy time named with their flag), from a props file and from flags, merged field by field,
 * and checked as Lambda checks it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCli, parseCommand } from '../../../cli/cli';
import { LocalEsmConfigError, validateOptions } from '../../../cli/kafka/esm';
import { SchemaRegistrySettings, validateSchemaRegistry } from '../../../cli/kafka/schemas-config';
import { settingsFromTemplate } from '../../../cli/template';

const GLUE_ARN = 'arn:aws:glue:eu-west-1:111122223333:registry/orders';
const SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-AbCdEf';
const CA = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-ca-GhIjKl';
const local = ['--bootstrap-servers', '127.0.0.1:9092', '--handler', 'h.handler'];

describe('schema registry settings of the local event source mapping', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-registry-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A template with one Kafka mapping whose Kafka config (self-managed or MSK) has this SchemaRegistryConfig. */
  function template(registry: Record<string, unknown>, msk = false): string {
    const file = path.join(dir, `t-${Math.random().toString(36).slice(2)}.json`);
    const config = msk
      ? {
          EventSourceArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/c/u',
          AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'g', SchemaRegistryConfig: registry },
        }
      : {
          SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9092'] } },
          SelfManagedKafkaEventSourceConfig: { SchemaRegistryConfig: registry },
        };
    fs.writeFileSync(
      file,
      JSON.stringify({
        Resources: {
          M: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: {
              FunctionName: 'f',
              Topics: ['orders'],
              StartingPosition: 'TRIM_HORIZON',
              ProvisionedPollerConfig: { MinimumPollers: 1 },
              ...config,
            },
          },
        },
      }),
    );
    return file;
  }

  test('a Confluent registry with literal secrets is read from the template: URI, record format, attributes, access configs', () => {
    // GIVEN a self-managed mapping validating keys and values against a Confluent registry with basic auth and a CA
    const file = template({
      SchemaRegistryURI: 'https://registry.example.com/apis/ccompat/v7',
      EventRecordFormat: 'SOURCE',
      AccessConfigs: [
        { Type: 'BASIC_AUTH', URI: SECRET },
        { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: CA },
      ],
      SchemaValidationConfigs: [{ Attribute: 'KEY' }, { Attribute: 'VALUE' }],
    });
    const notices: string[] = [];
    // WHEN the emulator reads it
    const o = parseCli(['--template', file, ...local], (l) => notices.push(l));
    // THEN it validates as the deployed mapping will, and leaves nothing out
    expect(o.schemaRegistry).toEqual({
      uri: 'https://registry.example.com/apis/ccompat/v7',
      eventRecordFormat: 'SOURCE',
      attributes: ['KEY', 'VALUE'],
      access: { BASIC_AUTH: SECRET, SERVER_ROOT_CA_CERTIFICATE: CA },
    });
    expect(notices).toEqual([]);
  });

  test("an MSK mapping's Glue registry given by reference is named with its flag, and the flag gives it", () => {
    // GIVEN an MSK mapping whose Glue registry ARN CloudFormation resolves at deploy time
    const file = template(
      {
        SchemaRegistryURI: { 'Fn::GetAtt': ['Registry', 'Arn'] },
        EventRecordFormat: 'JSON',
        SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
      },
      true,
    );
    // WHEN read from the template alone THEN the read settings say so, and the command fails naming the flag
    const read = settingsFromTemplate(file);
    expect(read.ignored).toEqual([
      'AmazonManagedKafkaEventSourceConfig.SchemaRegistryConfig.SchemaRegistryURI is resolved at deploy time; give --schema-registry',
    ]);
    expect(read.props.schemaRegistryConfig).toEqual({
      eventRecordFormat: 'JSON',
      accessConfigs: [],
      schemaValidationConfigs: [{ attribute: 'VALUE' }],
    });
    expect(() => parseCli(['--template', file, ...local])).toThrow(
      /schema registry: schemaRegistryUri \(--schema-registry\) is required/,
    );
    // WHEN the registry ARN comes as a flag THEN the template's format and attributes are kept
    expect(parseCli(['--template', file, '--schema-registry', GLUE_ARN, ...local]).schemaRegistry).toEqual({
      uri: GLUE_ARN,
      eventRecordFormat: 'JSON',
      attributes: ['VALUE'],
      access: {},
    });
  });

  test("fails when a template's registry secret resolves at deploy time and no flag gives it", () => {
    // GIVEN a Confluent registry whose mTLS secret is created by the stack
    const file = template({
      SchemaRegistryURI: 'https://registry.example.com',
      EventRecordFormat: 'JSON',
      AccessConfigs: [{ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: { Ref: 'RegistryCert' } }],
      SchemaValidationConfigs: [{ Attribute: 'KEY' }],
    });
    const notices: string[] = [];
    // WHEN read without the flag THEN it says which flag gives the secret
    expect(() => parseCli(['--template', file, ...local], (l) => notices.push(l))).toThrow(
      "schema registry: CLIENT_CERTIFICATE_TLS_AUTH needs its secret's ARN: give --schema-registry-access CLIENT_CERTIFICATE_TLS_AUTH=<secret ARN>",
    );
    expect(notices).toEqual([
      'template: SelfManagedKafkaEventSourceConfig.SchemaRegistryConfig.AccessConfigs CLIENT_CERTIFICATE_TLS_AUTH secret is resolved at deploy time; give --schema-registry-access CLIENT_CERTIFICATE_TLS_AUTH=<secret ARN>',
    ]);
    // WHEN given THEN the mapping uses the client certificate
    expect(
      parseCli(['--template', file, '--schema-registry-access', `CLIENT_CERTIFICATE_TLS_AUTH=${SECRET}`, ...local]).schemaRegistry
        ?.access,
    ).toEqual({ CLIENT_CERTIFICATE_TLS_AUTH: SECRET });
  });

  test("layers merge field by field, later ones winning: template, then --config (aws-cdk's KafkaSchemaRegistryConfig), then flags", () => {
    // GIVEN a template (JSON, VALUE, basic auth), a props file (SOURCE, a CA) and flags (KEY and VALUE, another basic auth secret)
    const file = template({
      SchemaRegistryURI: 'https://registry.example.com',
      EventRecordFormat: 'JSON',
      AccessConfigs: [{ Type: 'BASIC_AUTH', URI: CA }],
      SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
    });
    const props = path.join(dir, 'props.json');
    fs.writeFileSync(
      props,
      JSON.stringify({
        schemaRegistryConfig: { eventRecordFormat: 'SOURCE', accessConfigs: [{ type: 'SERVER_ROOT_CA_CERTIFICATE', uri: CA }] },
      }),
    );
    // WHEN all three are given
    const o = parseCli([
      '--template',
      file,
      '--config',
      props,
      '--schema-validate',
      'KEY',
      '--schema-validate',
      'VALUE',
      '--schema-registry-access',
      `BASIC_AUTH=${SECRET}`,
      ...local,
    ]);
    // THEN each field comes from the last layer that has it; access configs by type
    expect(o.schemaRegistry).toEqual({
      uri: 'https://registry.example.com',
      eventRecordFormat: 'SOURCE',
      attributes: ['KEY', 'VALUE'],
      access: { BASIC_AUTH: SECRET, SERVER_ROOT_CA_CERTIFICATE: CA },
    });
  });

  test('flags alone configure a registry; without any, records are delivered as they are', () => {
    expect(
      parseCli([
        ...local,
        '--topic',
        't',
        '--schema-registry',
        'http://127.0.0.1:8081',
        '--event-record-format',
        'JSON',
        '--schema-validate',
        'VALUE',
      ]).schemaRegistry,
    ).toEqual({ uri: 'http://127.0.0.1:8081', eventRecordFormat: 'JSON', attributes: ['VALUE'], access: {} });
    expect(parseCli([...local, '--topic', 't']).schemaRegistry).toBeUndefined();
  });

  test.each([
    [['--schema-registry', 'registry.example.com'], /schemaRegistryUri must be an http\(s\) URL .* got "registry.example.com"/],
    [
      ['--schema-registry', 'arn:aws:glue:us-east-1:111122223333:schema/orders/x'],
      /Glue registry ARN .* got "arn:aws:glue:us-east-1:111122223333:schema\/orders\/x"/,
    ],
    [['--event-record-format', 'AVRO'], /eventRecordFormat \(--event-record-format\) must be JSON or SOURCE, got "AVRO"/],
    [
      ['--event-record-format', 'JSON', '--schema-validate', 'HEADERS'],
      /a validated attribute must be KEY or VALUE, got "HEADERS"/,
    ],
    [
      ['--event-record-format', 'JSON', '--schema-validate', 'KEY', '--schema-validate', 'KEY'],
      /validated attributes repeat: KEY, KEY/,
    ],
    [['--event-record-format', 'JSON'], /schemaValidationConfigs \(--schema-validate\) must name KEY, VALUE or both/],
    [
      ['--event-record-format', 'JSON', '--schema-validate', 'KEY', '--schema-registry-access', 'BASIC_AUTH'],
      /--schema-registry-access must be TYPE=SECRET_ARN/,
    ],
    [
      ['--event-record-format', 'JSON', '--schema-validate', 'KEY', '--schema-registry-access', `SASL_SCRAM_512_AUTH=${SECRET}`],
      /access type must be BASIC_AUTH, CLIENT_CERTIFICATE_TLS_AUTH, SERVER_ROOT_CA_CERTIFICATE, got "SASL_SCRAM_512_AUTH"/,
    ],
    [
      ['--event-record-format', 'JSON', '--schema-validate', 'KEY', '--schema-registry-access', 'BASIC_AUTH=my-secret'],
      /BASIC_AUTH must be a Secrets Manager secret ARN, got "my-secret"/,
    ],
    [
      [
        '--event-record-format',
        'JSON',
        '--schema-validate',
        'KEY',
        '--schema-registry-access',
        `BASIC_AUTH=${SECRET}`,
        '--schema-registry-access',
        `CLIENT_CERTIFICATE_TLS_AUTH=${SECRET}`,
      ],
      /BASIC_AUTH or CLIENT_CERTIFICATE_TLS_AUTH, not both/,
    ],
  ])('fails on bad registry flags %j', (flags, message) => {
    const argv = [
      ...local,
      '--topic',
      't',
      ...(flags.includes('--schema-registry') ? [] : ['--schema-registry', 'https://registry.example.com']),
      ...flags,
    ];
    expect(() => parseCli(argv)).toThrow(LocalEsmConfigError);
    expect(() => parseCli(argv)).toThrow(message);
  });

  test('fails when a Glue registry is given access configs: Glue is read with the AWS credentials', () => {
    expect(() =>
      parseCli([
        ...local,
        '--topic',
        't',
        '--schema-registry',
        GLUE_ARN,
        '--event-record-format',
        'JSON',
        '--schema-validate',
        'VALUE',
        '--schema-registry-access',
        `BASIC_AUTH=${SECRET}`,
      ]),
    ).toThrow(/access configs \(BASIC_AUTH\) apply to Confluent registries/);
  });

  test('fails when a Kinesis mapping is given a schema registry', () => {
    expect(() => parseCommand(['--stream', 's', '--function-name', 'f', '--schema-registry', GLUE_ARN])).toThrow(
      /applies to Kafka mappings only/,
    );
  });

  test('settings given in code are checked by validateOptions', () => {
    // GIVEN settings built in code rather than parsed WHEN one is wrong THEN the mapping's options are refused
    const good: SchemaRegistrySettings = { uri: GLUE_ARN, eventRecordFormat: 'SOURCE', attributes: ['KEY'] };
    expect(() => validateSchemaRegistry(good)).not.toThrow();
    const base = { kafka: { brokers: ['127.0.0.1:9092'] }, topics: ['t'], functionName: 'f' };
    expect(() => validateOptions({ ...base, schemaRegistry: { ...good, eventRecordFormat: 'XML' as any } })).toThrow(
      /must be JSON or SOURCE, got "XML"/,
    );
  });
});
