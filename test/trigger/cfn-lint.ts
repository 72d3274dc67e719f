import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Pinned so a new cfn-lint rule cannot turn a passing build red without a commit. */
export const CFN_LINT_VERSION = '1.58.0';

function cacheDir(): string {
  return process.env.CKL_CACHE_DIR || path.join(os.homedir(), '.cache', 'cdk-kafka-lambda');
}

/**
 * cfn-lint from PyPI in a venv under the cache dir, installed once per version. The venv is built in a
 * temporary folder and renamed into place, so a killed install never leaves a half-made venv behind.
 */
export function ensureCfnLint(): string {
  const dir = path.join(cacheDir(), `venv-cfnlint-${CFN_LINT_VERSION}`);
  const bin = path.join(dir, 'bin', 'cfn-lint');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cacheDir(), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir(), '.venv-cfnlint-'));
  execFileSync('python3', ['-m', 'venv', tmp], { stdio: 'pipe' });
  execFileSync(path.join(tmp, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `cfn-lint==${CFN_LINT_VERSION}`],
    { stdio: 'pipe', timeout: 10 * 60 * 1000 });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another run won the race
  }
  // venv scripts carry the absolute interpreter path of the temporary folder; rewrite it.
  for (const f of fs.readdirSync(path.join(dir, 'bin'))) {
    const p = path.join(dir, 'bin', f);
    if (!fs.statSync(p).isFile()) continue;
    const text = fs.readFileSync(p, 'utf8');
    if (text.includes(tmp)) fs.writeFileSync(p, text.split(tmp).join(dir));
  }
  return bin;
}

export interface CfnLintFinding {
  readonly Rule: { readonly Id: string };
  readonly Level: string;
  readonly Message: string;
  readonly Location: { readonly Path: Array<string | number> };
}

/** Lints template files; returns the findings (JSON output), whatever their level. */
export function cfnLint(templates: string[]): CfnLintFinding[] {
  const bin = ensureCfnLint();
  try {
    execFileSync(bin, ['--format', 'json', '--', ...templates], { stdio: 'pipe', encoding: 'utf8' });
    return [];
  } catch (e) {
    const out = (e as { stdout?: string }).stdout;
    if (!out) throw e;
    return JSON.parse(out) as CfnLintFinding[];
  }
}
