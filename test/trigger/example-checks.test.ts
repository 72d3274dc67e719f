import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { buildExampleStacks } from '../../bin/stacks';
import { synthWithNag } from '../support/nag';
import { cfnLint } from './cfn-lint';

/** The example app with the feature flags of cdk.json (schema warnings are errors). */
function exampleApp(outdir?: string): App {
  return new App({ outdir, context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
}

describe('example stacks', () => {
  test('the AwsSolutions plugin runs on this aws-cdk-lib: GIVEN a queue without a dead-letter queue THEN synthesis fails naming AwsSolutions-SQS3', () => {
    // GIVEN a finding the pack always reports (a control for the test below, which expects none)
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-nag-control-'));
    try {
      const app = exampleApp(outdir);
      new sqs.Queue(new Stack(app, 'Control'), 'Queue', { enforceSSL: true });
      // WHEN synthesized THEN the finding is reported
      expect(synthWithNag(app).findings).toEqual([expect.stringMatching(/^AwsSolutions-SQS3: Control\/Queue\/Resource/)]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('cdk-nag AwsSolutions finds no unsuppressed error in any example stack', () => {
    // GIVEN the example stacks with the AwsSolutions pack as a validation plugin
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-nag-'));
    try {
      const app = exampleApp(outdir);
      const stacks = buildExampleStacks(app);
      // WHEN synthesized
      const { findings } = synthWithNag(app);
      // THEN no unacknowledged AwsSolutions finding remains
      expect(findings).toEqual([]);
      expect(stacks).toHaveLength(8);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('cfn-lint reports no error in any synthesized example template', () => {
    // GIVEN the synthesized example templates
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-cfnlint-'));
    try {
      const app = exampleApp(outdir);
      const stacks = buildExampleStacks(app);
      const assembly = app.synth();
      const templates = stacks.map((s) => path.join(assembly.directory, s.templateFile));
      // WHEN cfn-lint checks them
      const findings = cfnLint(templates);
      // THEN none is an error
      const errors = findings
        .filter((f) => f.Level === 'Error')
        .map((f) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`);
      expect(errors).toEqual([]);
      expect(templates).toHaveLength(8);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
