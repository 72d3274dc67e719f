'use strict';
/** cfn-lint, the one way the project lints CloudFormation templates (templates/, the example app, tests). */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { pythonVenv } = require('./python-venv');

/** Pinned so a new cfn-lint rule cannot turn a passing build red without a commit. */
const CFN_LINT_VERSION = '1.58.0';

/** Lints template files; returns cfn-lint's findings (its JSON records), whatever their level. */
function cfnLint(templates) {
  const bin = path.join(path.dirname(pythonVenv('cfn-lint', [`cfn-lint==${CFN_LINT_VERSION}`])), 'cfn-lint');
  try {
    execFileSync(bin, ['--format', 'json', '--', ...templates], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return [];
  } catch (e) {
    // Exit codes 2 (errors), 4 (warnings), 8 (informational) and their sums still print the findings.
    if (!e.stdout) throw e;
    return JSON.parse(e.stdout);
  }
}

module.exports = { CFN_LINT_VERSION, cfnLint };
