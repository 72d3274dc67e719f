import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ConfluentSchemaRegistry, GlueSchemaRegistry } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  ConfluentRegistryAuthentication,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaDispatcherProps,
  KafkaTrigger,
  KafkaVpcEndpoints,
  LambdaSinkConnector,
  RecordFieldFormat,
  RecordSchemaRegistry,
} from '../lib';
import { IAM4_BASIC_EXECUTION, acknowledgeFinding } from '../lib/private/nag';
import { configOf } from './support/dispatcher-config';
import { cfnLint } from './trigger/cfn-lint';
import { testApp, testFunction, testStack } from './trigger/support';
import { synthWithNag } from './support/nag';

const GLUE_ARN = 'arn:aws:glue:eu-west-1:111122223333:registry/orders';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:registry-AbCdEf';

function dispatcher(props: (stack: Stack) => Partial<KafkaDispatcherProps>, stack = testStack()) {
  const d = new KafkaDispatcher(stack, 'Dispatcher', { target: testFunction(stack), idempotency: false, ...props(stack) });
  return { stack, dispatcher: d, template: () => Template.fromStack(stack) };
}

const secret = (stack: Stack) => secretsmanager.Secret.fromSecretCompleteArn(stack, 'RegistrySecret', SECRET_ARN);

const roleStatements = (template: Template): any[] =>
  Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^DispatcherServiceRole') }] },
    }),
  ).flatMap((p: any) => p.Properties.PolicyDocument.Statement);

const withAction = (statements: any[], action: string) => statements.filter((s) => [s.Action].flat().includes(action));

function triggerOn(
  stack: Stack,
  d: KafkaDispatcher,
  schemaRegistry: lambda.ISchemaRegistry,
  id = 'Trigger',
  topic = 'orders',
): KafkaTrigger {
  return new KafkaTrigger(stack, id, {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
    topics: [topic],
    target: d.function,
    auth: KafkaAuth.scram512({
      secret: secretsmanager.Secret.fromSecretCompleteArn(
        stack,
        `${id}Scram`,
        'arn:aws:secretsmanager:us-east-1:111122223333:secret:scram-AbCdEf',
      ),
    }),
    provisionedPollers: { minimumPollers: 1, maximumPollers: 2 },
    schemaRegistry,
  });
}

describe('KafkaDispatcher schemas', () => {
  test('GIVEN a Confluent registry with basic auth THEN the value is read in its wire format and exactly its secret may be read', () => {
    // GIVEN
    const { template } = dispatcher((stack) => ({
      schemas: {
        registry: RecordSchemaRegistry.confluent({
          url: 'https://registry.example.com',
          authentication: ConfluentRegistryAuthentication.BASIC,
          secret: secret(stack),
        }),
      },
    }));
    // THEN the configuration names the formats and the registry
    expect(configOf(template()).schemas).toEqual({
      key: 'bytes',
      value: 'confluent',
      confluent: { url: 'https://registry.example.com', auth: 'basic', secretArn: SECRET_ARN },
    });
    // THEN GetSecretValue on that secret is the only read, and Glue is not granted
    const reads = withAction(roleStatements(template()), 'secretsmanager:GetSecretValue');
    expect(reads.map((s) => s.Resource)).toEqual([SECRET_ARN]);
    expect(JSON.stringify(roleStatements(template()))).not.toMatch(/glue:/);
  });

  test('GIVEN a Glue registry for key and value THEN GetSchemaVersion is granted on the registry and its schemas, the region comes from its ARN', () => {
    // GIVEN
    const { template } = dispatcher(() => ({
      schemas: { registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }), key: RecordFieldFormat.GLUE },
    }));
    // THEN
    expect(configOf(template()).schemas).toEqual({ key: 'glue', value: 'glue', glue: { region: 'eu-west-1' } });
    expect(withAction(roleStatements(template()), 'glue:GetSchemaVersion')).toEqual([
      {
        Action: 'glue:GetSchemaVersion',
        Effect: 'Allow',
        Resource: [GLUE_ARN, 'arn:aws:glue:eu-west-1:111122223333:schema/orders/*'],
      },
    ]);
    expect(withAction(roleStatements(template()), 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  test('GIVEN a Glue registry ARN as a token THEN its schemas and region are resolved by CloudFormation', () => {
    // GIVEN the ARN of a registry made in the same stack
    const { template } = dispatcher((stack) => {
      const registry = new (require('aws-cdk-lib/aws-glue').CfnRegistry)(stack, 'Registry', { name: 'orders' });
      return { schemas: { registry: RecordSchemaRegistry.glue({ registryArn: registry.attrArn }) } };
    });
    // THEN the schema ARN is built from the registry's
    const [statement] = withAction(roleStatements(template()), 'glue:GetSchemaVersion');
    expect(statement.Resource[0]).toEqual({ 'Fn::GetAtt': ['Registry', 'Arn'] });
    expect(JSON.stringify(statement.Resource[1])).toMatch(/":schema\/"/);
    expect(JSON.stringify(configOf(template()).schemas.glue.region)).toMatch(/Fn::Select/);
  });

  test('GIVEN a dispatcher in a VPC with each kind of registry THEN it gets the Glue and Secrets Manager endpoints admitting its role, and a rule to the registry port', () => {
    // GIVEN a Confluent registry on 8081 (mTLS, with a CA) in one stack, a Glue registry in another
    const confluent = dispatcher((stack) => ({
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 }),
      schemas: {
        registry: RecordSchemaRegistry.confluent({
          url: 'https://registry.internal:8081',
          authentication: ConfluentRegistryAuthentication.MTLS,
          secret: secret(stack),
          rootCaSecret: secretsmanager.Secret.fromSecretCompleteArn(
            stack,
            'Ca',
            'arn:aws:secretsmanager:us-east-1:111122223333:secret:ca-AbCdEf',
          ),
        }),
      },
    }));
    const glue = dispatcher((stack) => ({
      vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 }),
      schemas: { registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }) },
    }));
    // THEN the Secrets Manager endpoint admits the dispatcher for both secrets
    const endpointPolicy = (t: Template, service: string) =>
      Object.values(t.findResources('AWS::EC2::VPCEndpoint')).find((e: any) =>
        JSON.stringify(e.Properties.ServiceName).includes(service),
      ) as any;
    const sm = endpointPolicy(confluent.template(), 'secretsmanager');
    expect(JSON.stringify(sm.Properties.PolicyDocument)).toContain(SECRET_ARN);
    expect(JSON.stringify(sm.Properties.PolicyDocument)).toContain('secret:ca-AbCdEf');
    expect(configOf(confluent.template()).schemas.confluent).toEqual({
      url: 'https://registry.internal:8081',
      auth: 'mtls',
      secretArn: SECRET_ARN,
      rootCaSecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:ca-AbCdEf',
    });
    // THEN its security group may reach the registry's port
    confluent.template().hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ FromPort: 8081, ToPort: 8081, IpProtocol: 'tcp' })]),
    });
    // THEN the Glue endpoint admits exactly GetSchemaVersion on the registry's schemas
    const g = endpointPolicy(glue.template(), '.glue');
    expect(g).toBeDefined();
    expect(g.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: 'glue:GetSchemaVersion',
        Resource: [GLUE_ARN, 'arn:aws:glue:eu-west-1:111122223333:schema/orders/*'],
      }),
    ]);
    expect(glue.dispatcher.vpcEndpoints.glue).toBeDefined();
  });

  test.each([
    [
      'a format the registry does not hold',
      (_s: Stack) => ({ registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }), value: RecordFieldFormat.CONFLUENT }),
      /schemas.value was "confluent": the registry holds glue schemas: use RecordFieldFormat.GLUE or BYTES/,
    ],
    [
      'key and value both bytes',
      (_s: Stack) => ({ registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }), value: RecordFieldFormat.BYTES }),
      /schemas.value was "BYTES": key and value are both BYTES/,
    ],
    [
      'basic auth without a secret',
      (_s: Stack) => ({
        registry: RecordSchemaRegistry.confluent({
          url: 'https://r.example.com',
          authentication: ConfluentRegistryAuthentication.BASIC,
        }),
      }),
      /schemas.registry.secret is not set: authentication BASIC reads its credentials from a secret/,
    ],
    [
      'a secret without auth',
      (s: Stack) => ({ registry: RecordSchemaRegistry.confluent({ url: 'https://r.example.com', secret: secret(s) }) }),
      /schemas.registry.authentication was "NONE": a secret is given but not used/,
    ],
    [
      'mTLS over http',
      (s: Stack) => ({
        registry: RecordSchemaRegistry.confluent({
          url: 'http://r.example.com',
          authentication: ConfluentRegistryAuthentication.MTLS,
          secret: secret(s),
        }),
      }),
      /schemas.registry.url was "http:\/\/r.example.com": a client certificate \(MTLS\) needs an https:\/\/ URL/,
    ],
    [
      'a URL without scheme',
      (_s: Stack) => ({ registry: RecordSchemaRegistry.confluent({ url: 'registry.example.com:8081' }) }),
      /schemas.registry.url was "registry.example.com:8081": give the registry's http:\/\/ or https:\/\/ URL/,
    ],
    [
      'a Glue schema ARN for the registry',
      (_s: Stack) => ({
        registry: RecordSchemaRegistry.glue({ registryArn: 'arn:aws:glue:eu-west-1:111122223333:schema/orders/o' }),
      }),
      /schemas.registry.registryArn was "arn:aws:glue:eu-west-1:111122223333:schema\/orders\/o": give a Glue registry ARN/,
    ],
  ])('GIVEN %s THEN synthesis fails naming the prop, the value and the fix', (_name, schemas, message) => {
    expect(() => dispatcher((stack) => ({ schemas: schemas(stack) }))).toThrow(message);
  });

  describe("a KafkaTrigger with the mapping's schema registry", () => {
    test("GIVEN JSON record format for the value THEN the dispatcher reads the value as the mapping's JSON, the key as bytes, and needs no registry", () => {
      // GIVEN
      const { stack, dispatcher: d, template } = dispatcher(() => ({}));
      triggerOn(
        stack,
        d,
        new GlueSchemaRegistry({
          schemaRegistryArn: GLUE_ARN,
          eventRecordFormat: lambda.EventRecordFormat.JSON,
          schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
        }),
      );
      // THEN
      expect(configOf(template()).schemas).toEqual({ key: 'bytes', value: 'mapping-json' });
    });

    test("GIVEN SOURCE record format with Glue for key and value THEN the dispatcher decodes both with Glue in the registry's region", () => {
      // GIVEN
      const { stack, dispatcher: d, template } = dispatcher(() => ({}));
      triggerOn(
        stack,
        d,
        new GlueSchemaRegistry({
          schemaRegistryArn: GLUE_ARN,
          eventRecordFormat: lambda.EventRecordFormat.SOURCE,
          schemaValidationConfigs: [
            { attribute: lambda.KafkaSchemaValidationAttribute.KEY },
            { attribute: lambda.KafkaSchemaValidationAttribute.VALUE },
          ],
        }),
      );
      // THEN the mapping's grants (its source access policy, on the dispatcher's role) cover GetSchemaVersion
      expect(configOf(template()).schemas).toEqual({
        key: 'mapping-source',
        value: 'mapping-source',
        glue: { region: 'eu-west-1' },
      });
      const source = Object.entries(template().findResources('AWS::IAM::Policy')).filter(([id]) =>
        id.startsWith('TriggerSourceAccessPolicy'),
      );
      expect(JSON.stringify(source)).toMatch(/glue:GetSchemaVersion/);
    });

    test('GIVEN SOURCE record format with a Confluent registry and basic auth THEN the dispatcher reads that registry with that secret', () => {
      // GIVEN
      const { stack, dispatcher: d, template } = dispatcher(() => ({}));
      triggerOn(
        stack,
        d,
        new ConfluentSchemaRegistry({
          schemaRegistryUri: 'https://registry.example.com',
          authenticationType: lambda.KafkaSchemaRegistryAccessConfigType.BASIC_AUTH,
          secret: secret(stack),
          eventRecordFormat: lambda.EventRecordFormat.SOURCE,
          schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
        }),
      );
      // THEN
      expect(configOf(template()).schemas).toEqual({
        key: 'bytes',
        value: 'mapping-source',
        confluent: { url: 'https://registry.example.com', auth: 'basic', secretArn: SECRET_ARN },
      });
    });

    test("GIVEN the dispatcher decodes the field the mapping validates THEN synthesis fails naming the trigger's prop", () => {
      // GIVEN
      const { stack, dispatcher: d } = dispatcher(() => ({
        schemas: { registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }) },
      }));
      // THEN
      expect(() =>
        triggerOn(
          stack,
          d,
          new GlueSchemaRegistry({
            schemaRegistryArn: GLUE_ARN,
            eventRecordFormat: lambda.EventRecordFormat.JSON,
            schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
          }),
        ),
      ).toThrow(
        /KafkaTrigger TestStack\/Trigger: schemaRegistry was "VALUE": the dispatcher also decodes the value \(schemas.value glue\)/,
      );
    });

    test('GIVEN two triggers with different record formats on one dispatcher THEN the second fails', () => {
      // GIVEN
      const { stack, dispatcher: d } = dispatcher(() => ({}));
      const registry = (format: lambda.EventRecordFormat) =>
        new GlueSchemaRegistry({
          schemaRegistryArn: GLUE_ARN,
          eventRecordFormat: format,
          schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
        });
      triggerOn(stack, d, registry(lambda.EventRecordFormat.JSON));
      // THEN
      expect(() => triggerOn(stack, d, registry(lambda.EventRecordFormat.SOURCE), 'Second', 'payments')).toThrow(
        /Second: schemaRegistry was .*mapping-source.*: another trigger of this dispatcher delivers .*mapping-json/,
      );
    });
  });

  test('GIVEN a LambdaSinkConnector with schemas THEN its dispatcher decodes with them', () => {
    // GIVEN
    const stack = testStack();
    const connector = new LambdaSinkConnector(stack, 'Connector', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
      topics: ['orders'],
      target: testFunction(stack),
      schemas: { registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }) },
    });
    // THEN
    expect(configOf(Template.fromStack(stack)).schemas).toEqual({ key: 'bytes', value: 'glue', glue: { region: 'eu-west-1' } });
    expect(connector.dispatcher!.function).toBeDefined();
  });

  test("GIVEN a LambdaSinkConnector with the mapping's schemaRegistry THEN its trigger has the registry and its dispatcher reads the validated value as JSON", () => {
    // GIVEN
    const stack = testStack();
    new LambdaSinkConnector(stack, 'Connector', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
      topics: ['orders'],
      target: testFunction(stack),
      provisionedPollers: { minimumPollers: 1, maximumPollers: 2 },
      schemaRegistry: new GlueSchemaRegistry({
        schemaRegistryArn: GLUE_ARN,
        eventRecordFormat: lambda.EventRecordFormat.JSON,
        schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
      }),
    });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedKafkaEventSourceConfig: Match.objectLike({
        SchemaRegistryConfig: Match.objectLike({ SchemaRegistryURI: GLUE_ARN, EventRecordFormat: 'JSON' }),
      }),
    });
    expect(configOf(template).schemas).toEqual({ key: 'bytes', value: 'mapping-json' });
  });

  test("GIVEN existing VPC endpoints with a Glue one THEN its policy admits the dispatcher's GetSchemaVersion and no endpoint is created", () => {
    // GIVEN
    const { dispatcher: d, template } = dispatcher((stack) => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
      const glue = new ec2.InterfaceVpcEndpoint(stack, 'GlueEndpoint', { vpc, service: ec2.InterfaceVpcEndpointAwsService.GLUE });
      return {
        vpc,
        vpcEndpoints: KafkaVpcEndpoints.existing({ glue }),
        schemas: { registry: RecordSchemaRegistry.glue({ registryArn: GLUE_ARN }) },
      };
    });
    // THEN
    expect(Object.keys(template().findResources('AWS::EC2::VPCEndpoint'))).toEqual([expect.stringMatching(/^GlueEndpoint/)]);
    const [endpoint] = Object.values(template().findResources('AWS::EC2::VPCEndpoint')) as any[];
    expect(endpoint.Properties.PolicyDocument.Statement).toEqual([expect.objectContaining({ Action: 'glue:GetSchemaVersion' })]);
    expect(d.vpcEndpoints.glue).toBeDefined();
  });

  test('a VPC stack with a schema registry passes cdk-nag AwsSolutions and cfn-lint with no error', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-schemas-'));
    try {
      // GIVEN a dispatcher in a VPC reading a Confluent registry with basic auth, checked by the AwsSolutions pack
      const app = testApp();
      const stack = testStack(app);
      dispatcher(
        (s) => ({
          vpc: new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 0, flowLogs: { all: {} } }),
          schemas: {
            registry: RecordSchemaRegistry.confluent({
              url: 'https://registry.internal:8081',
              authentication: ConfluentRegistryAuthentication.BASIC,
              secret: secret(s),
            }),
          },
        }),
        stack,
      );
      acknowledgeFinding(stack.node.findChild('Target'), IAM4_BASIC_EXECUTION, "the test's stand-in target");
      // WHEN synthesized
      const file = path.join(outdir, 'TestStack.template.json');
      const { assembly, findings } = synthWithNag(app);
      expect(findings).toEqual([]);
      fs.writeFileSync(file, JSON.stringify(assembly!.getStackByName('TestStack').template));
      // THEN cfn-lint reports no error
      expect(cfnLint([file]).filter((f) => f.Level === 'Error')).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
