import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { COLD, Template, mappedFunction, resourcesOf, stepTimer, synthExample } from './support/example-apps';
import { cfnLint } from './trigger/cfn-lint';

const { goEnv, goModule, javaRepository, mavenRepository } = require('../scripts/package');
const { FLOOR } = require('../scripts/lib/cdk-floor');

const timed = stepTimer('examples');
const lintErrors = (files: string[]) =>
  cfnLint(files)
    .filter((f) => f.Level === 'Error')
    .map((f) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`);

/** THEN checks shared by the apps: a SCRAM mapping into the Node.js 24 dispatcher shipped in the package, failures to SQS. */
function expectTriggerToDispatcher(t: Template, outdir: string, auth: string) {
  const [esm] = resourcesOf(t, 'AWS::Lambda::EventSourceMapping');
  expect(esm.Properties.Topics).toEqual(['orders']);
  expect(esm.Properties.SourceAccessConfigurations.map((c: { Type: string }) => c.Type)).toEqual(
    expect.arrayContaining([auth, 'VPC_SUBNET', 'VPC_SECURITY_GROUP']),
  );
  const [queueId] = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::SQS::Queue')!;
  expect(esm.Properties.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  const fn = mappedFunction(t, esm);
  expect(fn.Properties.Runtime).toBe('nodejs24.x');
  expect(fs.existsSync(path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace('.zip', '')}`, 'index.js'))).toBe(true);
}

describe('Java example app (examples/java)', () => {
  let app: ReturnType<typeof synthExample>;

  beforeAll(() => {
    // GIVEN the jar of this build in a Maven repository, and Maven's local repository in the cache
    const repository: string = timed('java jar', () => javaRepository());
    const local: string = mavenRepository();
    // A rebuilt jar keeps its version, and Maven never fetches a release twice: forget the copy it holds.
    fs.rmSync(path.join(local, 'io', 'github', 'cdk-kafka-lambda'), { recursive: true, force: true });
    // WHEN the app is compiled and run with Maven, as its cdk.json says
    app = timed('mvn compile exec:java', () =>
      synthExample('java', [
        'mvn',
        '-B',
        '-q',
        `-Dmaven.repo.local=${local}`,
        `-Dcdk-kafka-lambda.repository=file://${repository}`,
        'compile',
        'exec:java',
      ]),
    );
  }, COLD);

  test('synthesizes a KafkaTrigger into a KafkaDispatcher with SCRAM-512, VPC placement and an SQS destination', () => {
    // THEN the trigger stack has the secure defaults, on the dispatcher bundle the jar carries
    expectTriggerToDispatcher(app.templates.KafkaToLambdaJava, app.outdir, 'SASL_SCRAM_512_AUTH');
  });

  test('synthesizes a LambdaSinkConnector: mapping, dispatcher with its idempotency table, one SCRAM-256 secret for both', () => {
    const t = app.templates.KafkaSinkConnectorJava;
    // THEN the connector's mapping reads with the created SCRAM-256 secret, into the dispatcher
    expectTriggerToDispatcher(t, app.outdir, 'SASL_SCRAM_256_AUTH');
    const [esm] = resourcesOf(t, 'AWS::Lambda::EventSourceMapping');
    const secret = esm.Properties.SourceAccessConfigurations.find((c: { Type: string }) => c.Type === 'SASL_SCRAM_256_AUTH').URI;
    // AND the dispatcher keeps what is done in a DynamoDB table and relays with the same secret
    expect(resourcesOf(t, 'AWS::DynamoDB::Table')).toHaveLength(1);
    expect(JSON.stringify(mappedFunction(t, esm).Properties.Environment)).toContain(JSON.stringify(secret).slice(1, -1));
  });

  test(
    'runs on the aws-cdk-lib floor, and its templates pass cfn-lint with no error',
    () => {
      // THEN the app ran on the floor's aws-cdk-lib (Maven takes the app's own version over the jar's range)
      timed('mvn dependency:list', () =>
        execFileSync(
          'mvn',
          [
            '-B',
            '-q',
            `-Dmaven.repo.local=${mavenRepository()}`,
            `-Dcdk-kafka-lambda.repository=file://${javaRepository()}`,
            'dependency:list',
            '-DoutputFile=deps.txt',
          ],
          { cwd: app.dir, stdio: 'ignore' },
        ),
      );
      expect(fs.readFileSync(path.join(app.dir, 'deps.txt'), 'utf8')).toContain(
        `software.amazon.awscdk:aws-cdk-lib:jar:${FLOOR['aws-cdk-lib']}`,
      );
      // AND cfn-lint finds no error in either template
      expect(Object.keys(app.templates).sort()).toEqual(['KafkaSinkConnectorJava', 'KafkaToLambdaJava']);
      expect(timed('cfn-lint', () => lintErrors(app.files))).toEqual([]);
    },
    COLD,
  );
});

describe('Go example app (examples/go)', () => {
  let app: ReturnType<typeof synthExample>;

  beforeAll(() => {
    // GIVEN the Go module of this build, compiled against aws-cdk-go at the floor
    const moduleDir: string = timed('go module', () => goModule());
    // WHEN the app runs with `go run .`, as its cdk.json says, on that module
    app = timed('go run', () =>
      synthExample('go', ['go', 'run', '.'], {
        env: { ...goEnv(), GOFLAGS: `${goEnv().GOFLAGS} -mod=mod` },
        prepare: (dir) =>
          execFileSync(
            'go',
            ['mod', 'edit', `-replace=github.com/cdk-kafka-lambda/cdk-kafka-lambda-go/cdkkafkalambda=${moduleDir}`],
            { cwd: dir },
          ),
      }),
    );
  }, COLD);

  test('synthesizes a KafkaTrigger into a KafkaDispatcher with SCRAM-512, VPC placement and an SQS destination', () => {
    // THEN the stack has the trigger's secure defaults, on the dispatcher bundle the module carries
    expect(Object.keys(app.templates)).toEqual(['KafkaToLambdaGo']);
    expectTriggerToDispatcher(app.templates.KafkaToLambdaGo, app.outdir, 'SASL_SCRAM_512_AUTH');
    const [secret] = resourcesOf(app.templates.KafkaToLambdaGo, 'AWS::SecretsManager::Secret');
    expect(secret.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
  });

  test(
    'builds on aws-cdk-go at the floor, and its template passes cfn-lint with no error',
    () => {
      // THEN the module the app used requires the floor, and the app resolved exactly it
      const list = execFileSync('go', ['list', '-m', 'github.com/aws/aws-cdk-go/awscdk/v2'], {
        cwd: app.dir,
        env: goEnv(),
        encoding: 'utf8',
      });
      expect(list.trim()).toBe(`github.com/aws/aws-cdk-go/awscdk/v2 v${FLOOR['aws-cdk-lib']}`);
      // AND cfn-lint finds no error
      expect(timed('cfn-lint', () => lintErrors(app.files))).toEqual([]);
    },
    COLD,
  );
});
