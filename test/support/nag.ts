import * as fs from 'fs';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Synthesizes the app with cdk-nag's AwsSolutions pack and returns its unacknowledged findings ("rule: paths"), read
 * from the validation report that every aws-cdk-lib of the peer range writes: newer ones throw on a finding, older
 * ones (the floor) only set the exit code, so the report is what both say alike. A pack that finds nothing may leave
 * no report: the control test in test/trigger/example-checks.test.ts proves that it runs.
 */
export function synthWithNag(app: App): { assembly?: cxapi.CloudAssembly; findings: string[] } {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const exitCode = process.exitCode;
  let assembly: cxapi.CloudAssembly | undefined;
  let error: unknown;
  try {
    assembly = app.synth({ force: true });
  } catch (e) {
    error = e;
  } finally {
    process.exitCode = exitCode;
  }
  const file = path.join(app.outdir, 'validation-report.json');
  const reports: any[] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).pluginReports : [];
  const nag = reports.find((r) => r.pluginName === 'AwsSolutions');
  const findings: string[] = (nag?.violations ?? []).map(
    (v: any) =>
      `${v.ruleName}: ${(v.violatingConstructs ?? []).map((c: any) => c.constructPath ?? c.resourceLogicalId).join(', ')}`,
  );
  if (error !== undefined && findings.length === 0) throw error;
  return { assembly, findings };
}
