/**
 * The code migrate plan prints compiles against this library (TypeScript, as test/readme-examples.test.ts compiles
 * the docs' examples), synthesizes to the connector's topics, groups, batch sizes and function, and the Python is
 * valid Python (python3 -m py_compile). The generated group IDs migrate plan computes match the construct's.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaAuth, KafkaCluster, LambdaSinkConnector } from '../../../lib';
import { DISPATCHER_CONFIG_ENV } from '../../../contract/dispatcher-config';
import { generatedGroupIds } from '../../../cli/migrate/group-ids';
import { buildPlan, MigrationPlan } from '../../../cli/migrate/plan';
import { readConnectorConfig } from '../../../cli/migrate/read-config';

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'connect');
const ALL = ['confluent-rest.json', 'confluent-documented.properties', 'nordstrom.properties', 'nordstrom-msk-config.json'];
/** The fixtures whose plans synthesize as printed (topics.regex leaves topics to list by hand). */
const SYNTHESIZED = ALL.filter((f) => f !== 'nordstrom-msk-config.json');

const planOf = (fixture: string, language: 'typescript' | 'python' = 'typescript') =>
  buildPlan(readConnectorConfig(path.join(FIXTURES, fixture)), { language });

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-plan-code-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config;
  const { options } = ts.parseJsonConfigFileContent({ compilerOptions: config.compilerOptions }, ts.sys, ROOT);
  return {
    ...options,
    noEmit: true,
    declaration: false,
    isolatedModules: false,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    baseUrl: ROOT,
    // The files lie outside the project: its packages are named here.
    paths: {
      'cdk-kafka-lambda': [path.join(ROOT, 'lib', 'index.ts')],
      'aws-cdk-lib': [path.join(ROOT, 'node_modules', 'aws-cdk-lib')],
      'aws-cdk-lib/*': [path.join(ROOT, 'node_modules', 'aws-cdk-lib', '*')],
      constructs: [path.join(ROOT, 'node_modules', 'constructs')],
    },
  };
}

test('GIVEN the plans of every fixture WHEN their TypeScript is compiled THEN there is no diagnostic', () => {
  const files = ALL.map((f) => {
    const file = path.join(dir, `${f.replace(/\W/g, '_')}.ts`);
    fs.writeFileSync(file, planOf(f).code);
    return file;
  });
  const program = ts.createProgram(files, compilerOptions());
  const problems = files.flatMap((file) => {
    const source = program.getSourceFile(file)!;
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map(
      (d) => `${path.basename(file)}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
  });
  expect(problems).toEqual([]);
});

/** The plan's stack, loaded from the printed code (its import pointed at lib/), synthesized. */
function synth(plan: MigrationPlan): Template {
  const file = path.join(dir, `${plan.app.stackClass}.ts`);
  // The file lies outside the project: its imports are resolved here, to the modules this test uses.
  const code = plan.code.replace(
    /from '([^']+)'/g,
    (_, m: string) => `from ${JSON.stringify(m === 'cdk-kafka-lambda' ? path.join(ROOT, 'lib') : require.resolve(m))}`,
  );
  fs.writeFileSync(file, code);
  const mod = require(file);
  const stack: Stack = new mod[plan.app.stackClass](new App(), plan.app.stackName, {
    env: { account: '111122223333', region: plan.app.region ?? 'us-east-1' },
  });
  return Template.fromStack(stack);
}

function dispatcherConfig(template: Template): string {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
    (f: any) => f.Properties.Environment?.Variables?.[DISPATCHER_CONFIG_ENV],
  ) as any;
  return JSON.stringify(fn.Properties.Environment.Variables[DISPATCHER_CONFIG_ENV]);
}

test.each(SYNTHESIZED)(
  'GIVEN the plan of %s WHEN its stack is synthesized THEN a mapping per topic in its pinned group',
  (fixture) => {
    const plan = planOf(fixture);
    const template = synth(plan);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', plan.groups.length);
    const batchSize = (plan.app.props.find((p) => p.prop === 'batchSize')?.value as number | undefined) ?? Match.absent();
    for (const { topic, groupId } of plan.groups) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        Topics: [topic],
        BatchSize: batchSize,
        SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: groupId },
      });
    }
  },
);

test('GIVEN the plan of the Confluent REST fixture WHEN synthesized THEN the dispatcher invokes orders-handler in batches of 50', () => {
  const template = synth(planOf('confluent-rest.json'));
  const config = dispatcherConfig(template);
  expect(config).toMatch(/recordsPerInvocation\\":50/);
  expect(config).toMatch(/function:orders-handler/);
  expect(config).toMatch(/onError\\":\\"log/);
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    BatchSize: 200,
    StartingPosition: 'TRIM_HORIZON',
    SourceAccessConfigurations: Match.arrayWith([Match.objectLike({ Type: 'SASL_SCRAM_512_AUTH' })]),
  });
});

test('GIVEN the plan of the Nordstrom properties WHEN synthesized THEN one record per invocation of the function ARN, through the role', () => {
  const config = dispatcherConfig(synth(planOf('nordstrom.properties')));
  expect(config).toMatch(/recordsPerInvocation\\":1[,}]/);
  expect(config).toContain('arn:aws:lambda:us-west-2:444455556666:function:example-function');
  expect(config).toContain('arn:aws:iam::444455556666:role/example-lambda-invoker');
  expect(config).toMatch(/nordstrom-json/);
});

test.each(ALL)('GIVEN the plan of %s in Python WHEN compiled by python3 THEN it is valid Python', (fixture) => {
  const file = path.join(dir, `${fixture.replace(/\W/g, '_')}.py`);
  fs.writeFileSync(file, planOf(fixture, 'python').code);
  expect(() => execFileSync('python3', ['-m', 'py_compile', file], { stdio: 'pipe' })).not.toThrow();
});

test('GIVEN a connector without consumerGroupIds WHEN synthesized THEN its groups are those generatedGroupIds computes', () => {
  const stack = new Stack(new App(), 'OrdersLambdaSinkStack');
  const connector = new LambdaSinkConnector(stack, 'OrdersLambdaSink', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.internal:9096'] }),
    topics: ['orders', 'payments'],
    auth: KafkaAuth.scram512(),
    target: lambda.Function.fromFunctionName(stack, 'Target', 'orders-handler'),
  });
  expect(connector.trigger.consumerGroupIds).toEqual(
    generatedGroupIds('OrdersLambdaSinkStack', 'OrdersLambdaSink', ['orders', 'payments']),
  );
});
