import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleStacks } from '../../bin/stacks';
import { cfnLint } from './cfn-lint';

/** The example app with the feature flags of cdk.json (schema warnings are errors). */
function exampleApp(outdir?: string): App {
  return new App({ outdir, context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
}

describe('example stacks', () => {
  test('cdk-nag AwsSolutions finds no unsuppressed error in any example stack', () => {
    // GIVEN the example stacks with the AwsSolutions pack as a validation plugin
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-nag-'));
    try {
      const app = exampleApp(outdir);
      const stacks = buildExampleStacks(app);
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
      // WHEN synthesized (a violation interrupts synthesis and is written to the report)
      let failure: Error | undefined;
      try {
        app.synth();
      } catch (e) {
        failure = e as Error;
      }
      // THEN no unacknowledged AwsSolutions finding remains (the message lists each one)
      expect(failure?.message ?? '').toBe('');
      expect(stacks).toHaveLength(7);
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
      const errors = findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id} ${f.Location.Path.join('/')}: ${f.Message}`);
      expect(errors).toEqual([]);
      expect(templates).toHaveLength(7);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
