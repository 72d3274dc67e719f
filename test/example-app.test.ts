import { App } from 'aws-cdk-lib';
import { Template, Match } from 'aws-cdk-lib/assertions';
import { buildExampleStacks } from '../bin/stacks';
import { HANDLER_RUNTIME } from '../lib/private/handler-runtime';

describe('example app', () => {
  test('every example stack has an event source mapping', () => {
    // GIVEN the example app
    const app = new App();
    // WHEN it is synthesized
    const stacks = buildExampleStacks(app);
    // THEN each stack wires at least one event source mapping to a function
    expect(stacks.length).toBeGreaterThan(0);
    for (const stack of stacks) {
      // Kafka mappings name topics; a Kinesis mapping names its stream or consumer.
      const mappings = Object.values(
        Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { FunctionName: Match.anyValue() },
        }),
      );
      expect(mappings.some((m) => m.Properties.Topics || m.Properties.EventSourceArn)).toBe(true);
    }
  });

  test('functions created from assets/ run the Node.js version the handlers are bundled for', () => {
    // GIVEN the example stacks
    const stacks = buildExampleStacks(new App());
    // WHEN their asset-backed functions are listed
    const runtimes = stacks.flatMap((stack) =>
      Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
        // aws-cdk-lib's AwsCustomResource provider (the trigger's dry-run check) ships its own code and runtime.
        .filter(([id, fn]) => fn.Properties.Code?.S3Key !== undefined && !id.startsWith('AWS679f53fac002430cb0da5b7982bd2287'))
        .map(([, fn]) => fn)
        .map((fn) => fn.Properties.Runtime),
    );
    // THEN all use HANDLER_RUNTIME, which the build reads for its esbuild target
    expect(runtimes.length).toBeGreaterThan(0);
    expect(new Set(runtimes)).toEqual(new Set([HANDLER_RUNTIME.name]));
  });

  test('the app synthesizes without an account lookup', () => {
    // GIVEN an app with no context
    const app = new App();
    buildExampleStacks(app);
    // WHEN synthesized
    const assembly = app.synth();
    // THEN no context lookups were needed
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });
});
