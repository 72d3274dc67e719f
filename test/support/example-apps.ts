import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const root = path.join(__dirname, '..', '..');
/** A first run on a fresh machine: jsii-pacmak, Maven, pip and Go download and build everything. */
export const COLD = 20 * 60 * 1000;

export type Template = {
  Parameters?: Record<string, any>;
  Resources: Record<string, { Type: string; Properties?: any }>;
  [k: string]: any;
};
export const resourcesOf = (t: Template, type: string) => Object.values(t.Resources).filter((r) => r.Type === type);

/** Each step's duration, printed after the file's tests, so slow steps show up in the test log. */
export function stepTimer(name: string) {
  const timings: string[] = [];
  afterAll(() => process.stderr.write(`${name} timings: ${timings.join(', ')}\n`));
  return <T>(label: string, fn: () => T): T => {
    const start = Date.now();
    try {
      return fn();
    } finally {
      timings.push(`${label} ${((Date.now() - start) / 1000).toFixed(1)}s`);
    }
  };
}

/**
 * Runs an example app (examples/<language>) the way `cdk synth` runs it: the command of its cdk.json, or the
 * one given, in a copy of its folder (so no build output lands in the repo), with CDK_OUTDIR and the cdk.json
 * context. Returns the cloud assembly directory, its stack templates by stack name and their files.
 */
export function synthExample(
  language: string,
  command: string[],
  options: { env?: NodeJS.ProcessEnv; prepare?: (dir: string) => void } = {},
) {
  const source = path.join(root, 'examples', language);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ckl-example-${language}-`));
  fs.cpSync(source, dir, { recursive: true, filter: (f) => !/(^|\/)(cdk\.out|target|\.venv)$/.test(f) });
  options.prepare?.(dir);
  const outdir = path.join(dir, 'cdk.out');
  const context = JSON.parse(fs.readFileSync(path.join(source, 'cdk.json'), 'utf8')).context;
  execFileSync(command[0], command.slice(1), {
    cwd: dir,
    env: {
      ...process.env,
      ...options.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify(context),
      JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0],
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: COLD,
  });
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  const stacks = Object.entries<any>(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  const files = Object.fromEntries(stacks.map(([name, a]) => [name, path.join(outdir, a.properties.templateFile)]));
  const templates: Record<string, Template> = Object.fromEntries(
    Object.entries(files).map(([name, f]) => [name, JSON.parse(fs.readFileSync(f, 'utf8'))]),
  );
  return { dir, outdir, templates, files: Object.values(files) };
}

/** The function a mapping invokes. */
export function mappedFunction(t: Template, esm: { Properties?: any }) {
  const id = esm.Properties.FunctionName['Fn::GetAtt']?.[0] ?? esm.Properties.FunctionName.Ref;
  return t.Resources[id];
}
