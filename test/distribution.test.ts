import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { COLD, Template, mappedFunction, resourcesOf, root, stepTimer, synthExample } from './support/example-apps';

const { pythonWheel } = require('../scripts/package');
const { installWheel, pythonVenv } = require('../scripts/lib/python-venv');
const { writeTemplates, AssetParametersSynthesizer } = require('../scripts/templates');
const { cfnLint } = require('../scripts/lib/cfn-lint');

const timed = stepTimer('distribution');

describe('Python package', () => {
  let template: Template;
  let app: ReturnType<typeof synthExample>;
  let python: string;

  beforeAll(() => {
    // GIVEN the wheel of this build in a venv with the example's requirements
    const wheel = timed('python wheel', () => pythonWheel());
    const requirements = path.join(root, 'examples', 'python', 'requirements.txt');
    python = timed('python venv', () => pythonVenv('example-python', ['-r', requirements]));
    timed('pip install wheel', () => installWheel(python, wheel));
    // WHEN the Python example app runs the way `cdk synth` runs it (context from its cdk.json)
    app = timed('python app.py', () => synthExample('python', [python, 'app.py']));
    template = app.templates.KafkaToLambdaPython;
  }, COLD);

  test(
    "the Python app's template passes cfn-lint with no error",
    () => {
      // THEN cfn-lint finds no error
      expect(app.files).toHaveLength(2);
      expect(cfnLint(app.files).filter((f: { Level: string }) => f.Level === 'Error')).toEqual([]);
    },
    COLD,
  );

  test('the Python app synthesizes a KafkaTrigger whose default auth is SASL/SCRAM-512 with a created, KMS-encrypted secret', () => {
    // THEN the mapping authenticates with the secret the trigger created
    const esms = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    expect(esms).toHaveLength(1);
    const [esm] = esms;
    expect(esm.Properties.Topics).toEqual(['orders']);
    const [secretId] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::SecretsManager::Secret')!;
    expect(esm.Properties.SourceAccessConfigurations).toEqual(
      expect.arrayContaining([{ Type: 'SASL_SCRAM_512_AUTH', URI: { Ref: secretId } }]),
    );
    // AND the secret is encrypted with a customer managed key
    expect(template.Resources[secretId].Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
  });

  test('the Python app places the event source in the VPC and sends failed batches to a created queue', () => {
    // THEN the mapping has a subnet per AZ and a security group, and an SQS on-failure destination
    const [esm] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    const types = esm.Properties.SourceAccessConfigurations.map((c: { Type: string }) => c.Type);
    expect(types.filter((t: string) => t === 'VPC_SUBNET')).toHaveLength(2);
    expect(types).toContain('VPC_SECURITY_GROUP');
    const [queueId] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::SQS::Queue')!;
    expect(esm.Properties.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  test('the Python app runs the pipeline inside a Node.js function, with the runtime layer shipped inside the wheel', () => {
    // GIVEN the in-process stack
    const inProcess = app.templates.KafkaInProcessPython;
    // THEN its mapping invokes the user's function, which carries the in-process configuration and the runtime layer
    const [esm] = resourcesOf(inProcess, 'AWS::Lambda::EventSourceMapping');
    const fn = mappedFunction(inProcess, esm);
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(JSON.stringify(fn.Properties.Environment.Variables.CKL_DISPATCHER_CONFIG)).toContain('\\"inProcess\\":true');
    const [layer] = resourcesOf(inProcess, 'AWS::Lambda::LayerVersion');
    expect(fn.Properties.Layers).toHaveLength(1);
    const asset = path.join(app.outdir, `asset.${layer.Properties.Content.S3Key.replace('.zip', '')}`);
    expect(fs.existsSync(path.join(asset, 'nodejs', 'node_modules', 'cdk-kafka-lambda', 'runtime', 'index.js'))).toBe(true);
  });

  test(
    "the Python code migrate plan prints for a connector's config synthesizes to its topics and pinned groups",
    () => {
      // GIVEN the Python plan of a Confluent connector's .properties
      const { buildPlan } = require('../cli/migrate/plan') as typeof import('../cli/migrate/plan');
      const { readConnectorConfig } = require('../cli/migrate/read-config') as typeof import('../cli/migrate/read-config');
      const config = readConnectorConfig(path.join(root, 'test', 'fixtures', 'connect', 'confluent-documented.properties'));
      const plan = buildPlan(config, { language: 'python' });
      // WHEN it runs as its app, with this wheel
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-plan-python-'));
      fs.writeFileSync(path.join(dir, 'app.py'), plan.code);
      execFileSync(python, ['app.py'], {
        cwd: dir,
        env: { ...process.env, CDK_OUTDIR: path.join(dir, 'cdk.out') },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: COLD,
      });
      // THEN its stack has one mapping per topic, each in the consumer group the plan names
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.out', 'manifest.json'), 'utf8'));
      const [stack] = Object.values<any>(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
      const synthesized = JSON.parse(fs.readFileSync(path.join(dir, 'cdk.out', stack.properties.templateFile), 'utf8'));
      const groups = Object.fromEntries(
        resourcesOf(synthesized, 'AWS::Lambda::EventSourceMapping').map((m: any) => [
          m.Properties.Topics[0],
          m.Properties.SelfManagedKafkaEventSourceConfig?.ConsumerGroupId ??
            m.Properties.AmazonManagedKafkaEventSourceConfig?.ConsumerGroupId,
        ]),
      );
      expect(groups).toEqual(Object.fromEntries(plan.groups.map((g) => [g.topic, g.groupId])));
      fs.rmSync(dir, { recursive: true, force: true });
    },
    COLD,
  );

  test('the dispatcher runs the handler bundle shipped inside the wheel', () => {
    // THEN the dispatcher function is the Node.js 24 handler from assets/, staged as a file asset
    const [esm] = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    const fn = mappedFunction(template, esm);
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    expect(fn.Properties.Code.S3Key).toMatch(/^[0-9a-f]{64}\.zip$/);
    expect(fs.existsSync(path.join(app.outdir, `asset.${fn.Properties.Code.S3Key.replace('.zip', '')}`, 'index.js'))).toBe(true);
  });
});

describe('CloudFormation templates', () => {
  const templatesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-templates-'));
  const assetsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-assets-'));
  let written: { templates: string[]; assets: string[] };
  let templates: Record<string, Template>;

  beforeAll(() => {
    // GIVEN the templates npm run templates writes, over the zips of an older run
    fs.writeFileSync(path.join(assetsDir, 'stale.zip'), 'code of an older build');
    written = timed('templates', () => writeTemplates({ templatesDir, assetsDir }));
    templates = Object.fromEntries(
      written.templates.map((f) => [path.basename(f, '.json'), JSON.parse(fs.readFileSync(f, 'utf8'))]),
    );
  }, COLD);

  test(
    'cfn-lint reports no errors',
    () => {
      // WHEN cfn-lint checks every template THEN it finds no error
      const findings: Array<{ Level: string }> = timed('cfn-lint', () => cfnLint(written.templates));
      expect(findings.filter((f) => f.Level === 'Error')).toEqual([]);
    },
    COLD,
  );

  test('the handler code comes from the AssetsBucket under AssetsKeyPrefix, as zips written to dist/assets', () => {
    for (const [name, t] of Object.entries(templates)) {
      for (const fn of resourcesOf(t, 'AWS::Lambda::Function')) {
        // THEN each function's code is s3://<AssetsBucket>/<AssetsKeyPrefix><hash>.zip
        const code = fn.Properties.Code;
        expect({ name, bucket: code.S3Bucket }).toEqual({ name, bucket: { Ref: 'AssetsBucket' } });
        const [prefix, key] = code.S3Key['Fn::Join'][1];
        expect(prefix).toEqual({ Ref: 'AssetsKeyPrefix' });
        // AND the zip of that key exists and holds the handler
        const zip = path.join(assetsDir, key);
        expect(execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n')).toContain('index.js');
      }
    }
    expect(written.assets.length).toBeGreaterThan(0);
    // AND dist/assets holds only those zips, so an upload of the folder carries no stale code
    expect(fs.readdirSync(assetsDir).sort()).toEqual([...new Set(written.assets.map((f) => path.basename(f)))].sort());
  });

  test('deployment-specific values are parameters, and nothing needs the CDK bootstrap', () => {
    for (const t of Object.values(templates)) {
      // THEN the template takes the target and the topic as parameters
      expect(Object.keys(t.Parameters ?? {})).toEqual(
        expect.arrayContaining(['TargetFunctionArn', 'Topic', 'AssetsBucket', 'AssetsKeyPrefix']),
      );
      // AND has no bootstrap version check, CDK metadata or construct paths
      expect(t.Parameters).not.toHaveProperty('BootstrapVersion');
      expect(t.Rules).toBeUndefined();
      expect(resourcesOf(t, 'AWS::CDK::Metadata')).toEqual([]);
      expect(JSON.stringify(t)).not.toContain('aws:cdk:path');
    }
  });

  test('each mapping reads the parameters: brokers or cluster, topic, consumer group (the stack name when empty), destination', () => {
    for (const t of Object.values(templates)) {
      const [esm] = resourcesOf(t, 'AWS::Lambda::EventSourceMapping');
      // THEN the brokers come from BootstrapServers (a list) or the cluster from ClusterArn
      expect([
        esm.Properties.SelfManagedEventSource?.Endpoints.KafkaBootstrapServers,
        esm.Properties.EventSourceArn,
      ]).toContainEqual(expect.objectContaining({ Ref: expect.stringMatching(/^(BootstrapServers|ClusterArn)$/) }));
      expect(esm.Properties.Topics).toEqual([{ Ref: 'Topic' }]);
      const config = esm.Properties.SelfManagedKafkaEventSourceConfig ?? esm.Properties.AmazonManagedKafkaEventSourceConfig;
      expect(config.ConsumerGroupId).toEqual({
        'Fn::If': ['ConsumerGroupIdIsStackName', { Ref: 'AWS::StackName' }, { Ref: 'ConsumerGroupId' }],
      });
      expect(esm.Properties.DestinationConfig.OnFailure.Destination).toEqual({ Ref: 'OnFailureQueueArn' });
    }
  });

  test('fails with a clear message on a container image asset', () => {
    // GIVEN a stack on the templates' synthesizer WHEN it gets a container image asset THEN synth fails, naming the reason
    const stack = new Stack(new App(), 'Image', { synthesizer: new AssetParametersSynthesizer() });
    expect(() => stack.synthesizer.addDockerImageAsset({ sourceHash: 'abc', directoryName: 'image' })).toThrow(
      /Container image assets are not supported in templates/,
    );
  });
});

describe('API.md', () => {
  test('documents every type of the jsii assembly', () => {
    // GIVEN the assembly the build wrote and the API.md the build generated from it
    const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
    const api = fs.readFileSync(path.join(root, 'API.md'), 'utf8');
    // WHEN each type's anchor is looked up THEN none is missing
    const fqns = Object.keys(assembly.types);
    expect(fqns.length).toBeGreaterThan(0);
    expect(fqns.filter((fqn) => !api.includes(`id="${fqn}"`))).toEqual([]);
  });
});
