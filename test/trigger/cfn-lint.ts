/** Typed access to the project's cfn-lint helper (scripts/lib/cfn-lint.js: pinned cfn-lint in a cached venv). */
const lint = require('../../scripts/lib/cfn-lint');

export const CFN_LINT_VERSION: string = lint.CFN_LINT_VERSION;

export interface CfnLintFinding {
  readonly Rule: { readonly Id: string };
  readonly Level: string;
  readonly Message: string;
  readonly Location: { readonly Path: Array<string | number> };
}

/** Lints template files; returns the findings (JSON output), whatever their level. */
export function cfnLint(templates: string[]): CfnLintFinding[] {
  return lint.cfnLint(templates);
}
