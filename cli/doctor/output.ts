/** How the doctor prints its checks: one line per check, the mapping's problem and the fix under a failed one. */
import type { CheckResult, Status } from './result';

const LABEL: Record<Status, string> = {
  passed: 'passed ',
  failed: 'FAILED ',
  skipped: 'skipped',
  unchecked: 'not checked',
};

const STEP_NAME: Record<CheckResult['step'], string> = {
  network: '1 dns+tcp',
  tls: '2 tls',
  auth: '3 auth',
  topics: '4 topic',
  group: '5 group',
  acls: '6 acl',
  'schema-registry': '7 schema registry',
};

export function formatResult(r: CheckResult): string[] {
  const lines = [`[${LABEL[r.status]}] ${STEP_NAME[r.step]}${r.subject ? ` ${r.subject}` : ''}: ${r.detail}`];
  if (r.status !== 'passed' && r.problem) lines.push(`    mapping: ${r.problem}`);
  if (r.status !== 'passed' && r.fix) lines.push(`    fix: ${r.fix}`);
  return lines;
}

export function summary(results: readonly CheckResult[]): string {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  return `doctor: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped, ${count('unchecked')} not checked`;
}
