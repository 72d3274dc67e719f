/**
 * The LambdaSinkConnector's synthesized template drives the real path: the dispatcher bundle under the Lambda
 * emulator runs with the configuration the construct wrote, reads the very SCRAM secret the event source mapping
 * names (one Kafka user), writes its idempotency table in DynamoDB Local, invokes the target and relays to the
 * real broker over SASL_SSL with the root CA secret the construct created.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as te from '../testenv';
import { KafkaAuth, KafkaCluster, LambdaSinkConnector } from '../lib';
import { DISPATCHER_CONFIG_ENV } from '../contract/dispatcher-config';
import { createIdempotencyTable, invokeFunction, kafkaEvent, partitionSpecs, readTopic } from './runtime/support';

jest.setTimeout(120_000);

const TARGETS = path.join(__dirname, 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', 'assets', 'dispatcher');

/** The config JSON with each CloudFormation token replaced by what `resolve` returns for its logical id. */
function resolveConfig(value: any, resolve: (logicalId: string) => string): string {
  return (value['Fn::Join'][1] as any[])
    .map((p) => {
      if (typeof p === 'string') return p;
      const id = p.Ref ?? p['Fn::GetAtt'][0];
      return resolve(id);
    })
    .join('');
}

describe('LambdaSinkConnector against the real components', () => {
  const env = te.loadEnv();
  const lambdaClient = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const fns: te.RunningLambda[] = [];
  afterAll(async () => {
    await Promise.all(fns.map((f) => f.stop()));
    lambdaClient.destroy();
    dynamodb.destroy();
    secrets.destroy();
  });

  test("the synthesized dispatcher relays the target's results with the event source's own SCRAM secret", async () => {
    // GIVEN the connector synthesized for the test broker's SASL_SSL listener, SCRAM-512, its root CA as PEM
    const responseTopic = `conn-${randomUUID()}`;
    await te.createTopic(responseTopic, 1);
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: env.region } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.echo',
      timeout: Duration.seconds(30),
      code: lambda.Code.fromInline('exports.echo=async()=>[]'),
    });
    new LambdaSinkConnector(stack, 'Sink', {
      cluster: KafkaCluster.selfManaged({
        bootstrapServers: [env.kafka.bootstrap.saslSsl],
        rootCaCertificatePem: env.certs.pem.caCert,
      }),
      topics: ['orders'],
      target,
      auth: KafkaAuth.scram512(),
      responseTopic,
    });
    const template = Template.fromStack(stack).toJSON();
    const resources = template.Resources;
    const mapping: any = Object.values(resources).find((r: any) => r.Type === 'AWS::Lambda::EventSourceMapping');
    const mappingSecret = mapping.Properties.SourceAccessConfigurations.find((a: any) => a.Type === 'SASL_SCRAM_512_AUTH').URI
      .Ref;
    const dispatcherFn: any = Object.values(resources).find(
      (r: any) => r.Properties?.Environment?.Variables?.[DISPATCHER_CONFIG_ENV],
    );

    // AND the real stand-ins for what the template creates: the secrets (the broker's user; the CA), the table, the target
    const scramArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `conn-scram-${randomUUID()}`,
          SecretString: JSON.stringify(env.kafka.scram['SCRAM-SHA-512']),
        }),
      )
    ).ARN!;
    const caArn = (
      await secrets.send(
        new CreateSecretCommand({
          Name: `conn-ca-${randomUUID()}`,
          SecretString: JSON.stringify({ certificate: env.certs.pem.caCert }),
        }),
      )
    ).ARN!;
    const tableName = await createIdempotencyTable(dynamodb);
    const targetName = `conn-echo-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: targetName, dir: TARGETS, handler: 'index.echo' }));
    const used: string[] = [];
    const config = resolveConfig(dispatcherFn.Properties.Environment.Variables[DISPATCHER_CONFIG_ENV], (id) => {
      used.push(id);
      if (id === mappingSecret) return scramArn;
      if (id.startsWith('SinkRootCaSecret')) return caArn;
      if (id.startsWith('SinkDispatcherIdempotencyTable')) return tableName;
      if (id.startsWith('Target')) return targetName;
      throw new Error(`unexpected token ${id} in the dispatcher configuration`);
    });
    // The relay's secret is the mapping's secret: one Kafka user.
    expect(used).toContain(mappingSecret);
    const dispatcher = await te.startLambda({
      name: `conn-disp-${randomUUID().slice(0, 8)}`,
      dir: DISPATCHER,
      timeoutSeconds: 30,
      env: { [DISPATCHER_CONFIG_ENV]: config },
    });
    fns.push(dispatcher);

    // WHEN the mapping's event reaches the dispatcher
    const out = await invokeFunction(lambdaClient, dispatcher.name, kafkaEvent(partitionSpecs('orders', 0, 40, 3)));

    // THEN the target ran once and its three results are in the response topic, keyed by source coordinates
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await te.listInvocations(targetName)).toHaveLength(1);
    const relayed = await readTopic(te, responseTopic, 3);
    expect(relayed.map((m) => JSON.parse(m.key).offset).sort()).toEqual([40, 41, 42]);
  });
});
