/**
 * The LambdaSinkConnector code `migrate plan` prints, in TypeScript or Python, from one description of its props: a
 * stack class holding the connector, and the app that instantiates it.
 */

/** A value in the generated code. Calls are written in TypeScript form (`lambda.Function.fromFunctionName`). */
export type Expr =
  | string
  | number
  | boolean
  | Expr[]
  | { readonly k: 'this' }
  | { readonly k: 'enum'; readonly type: string; readonly member: string }
  | { readonly k: 'call'; readonly callee: string; readonly args: Array<Expr | ObjectExpr> }
  | ObjectExpr;

/** An object literal; in Python the keyword arguments of the call it is the last argument of. */
export interface ObjectExpr {
  readonly k: 'obj';
  readonly props: Record<string, Expr>;
  /** The struct it is (Python writes a top-level struct as its class: `RecordSchemas(registry=...)`). */
  readonly type?: string;
}

export const THIS: Expr = { k: 'this' };
export const call = (callee: string, ...args: Array<Expr | ObjectExpr>): Expr => ({ k: 'call', callee, args });
export const obj = (props: Record<string, Expr | undefined>, type?: string): ObjectExpr => ({
  k: 'obj',
  props: Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as Record<string, Expr>,
  type,
});
export const enumMember = (type: string, member: string): Expr => ({ k: 'enum', type, member });

/** One prop of the connector, with the connector keys it comes from (a comment on its line). */
export interface GeneratedProp {
  readonly prop: string;
  readonly value: Expr;
  readonly from: string[];
}

export interface GeneratedApp {
  readonly stackClass: string;
  readonly stackName: string;
  readonly constructId: string;
  readonly region?: string;
  /** The header comment: where the code comes from. */
  readonly header: string[];
  readonly props: GeneratedProp[];
}

export type Language = 'typescript' | 'python';

/** aws-cdk-lib modules by their TypeScript alias: [TypeScript module, Python module, Python alias]. */
const MODULES: Record<string, [string, string, string]> = {
  cdk: ['aws-cdk-lib', 'aws_cdk', 'cdk'],
  lambda: ['aws-cdk-lib/aws-lambda', 'aws_cdk.aws_lambda', 'lambda_'],
  iam: ['aws-cdk-lib/aws-iam', 'aws_cdk.aws_iam', 'iam'],
  secretsmanager: ['aws-cdk-lib/aws-secretsmanager', 'aws_cdk.aws_secretsmanager', 'secretsmanager'],
};

/** A dotted name with its module alias in Python's form (lambda.X → lambda_.X). */
const pyHead = (dotted: string) => {
  const [head, ...rest] = dotted.split('.');
  return [head in MODULES ? MODULES[head][2] : head, ...rest].join('.');
};

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** The identifiers an expression uses: aws-cdk-lib module aliases and this library's exports. */
function collect(e: Expr | ObjectExpr, into: Set<string>, language: Language): void {
  if (Array.isArray(e)) e.forEach((x) => collect(x, into, language));
  else if (typeof e !== 'object') return;
  else if (e.k === 'enum') into.add(e.type.split('.')[0]);
  else if (e.k === 'call') {
    into.add(e.callee.split('.')[0]);
    e.args.forEach((a) => collect(a, into, language));
  } else if (e.k === 'obj') {
    if (e.type && language === 'python') into.add(e.type);
    Object.values(e.props).forEach((v) => collect(v, into, language));
  }
}

function usedNames(app: GeneratedApp, language: Language): { modules: string[]; library: string[] } {
  const names = new Set<string>(['LambdaSinkConnector']);
  app.props.forEach((p) => collect(p.value, names, language));
  const modules = ['cdk', ...[...names].filter((n) => n in MODULES && n !== 'cdk').sort()];
  const library = [...names].filter((n) => !(n in MODULES)).sort();
  return { modules, library };
}

function renderTs(e: Expr | ObjectExpr): string {
  if (typeof e === 'string') return `'${e.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof e !== 'object') return String(e);
  if (Array.isArray(e)) return `[${e.map(renderTs).join(', ')}]`;
  switch (e.k) {
    case 'this':
      return 'this';
    case 'enum':
      return `${e.type}.${e.member}`;
    case 'call':
      return `${e.callee}(${e.args.map(renderTs).join(', ')})`;
    case 'obj':
      return `{ ${Object.entries(e.props)
        .map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : renderTs(k)}: ${renderTs(v)}`)
        .join(', ')} }`;
  }
}

function renderPy(e: Expr | ObjectExpr): string {
  if (typeof e === 'string') return JSON.stringify(e);
  if (typeof e === 'boolean') return e ? 'True' : 'False';
  if (typeof e === 'number') return String(e);
  if (Array.isArray(e)) return `[${e.map(renderPy).join(', ')}]`;
  switch (e.k) {
    case 'this':
      return 'self';
    case 'enum':
      return `${pyHead(e.type)}.${e.member}`;
    case 'call': {
      const parts = e.callee.split('.');
      const head = parts[0] in MODULES ? MODULES[parts[0]][2] : parts[0];
      const callee = [head, ...parts.slice(1, -1), parts.length > 1 ? snake(parts[parts.length - 1]) : ''].filter(Boolean);
      return `${callee.join('.')}(${e.args.map((a) => (typeof a === 'object' && !Array.isArray(a) && a.k === 'obj' ? kwargs(a) : renderPy(a))).join(', ')})`;
    }
    case 'obj':
      if (e.type) return `${e.type}(${kwargs(e)})`;
      return `{${Object.entries(e.props)
        .map(([k, v]) => `${JSON.stringify(k)}: ${renderPy(v)}`)
        .join(', ')}}`;
  }
}

const kwargs = (o: ObjectExpr) =>
  Object.entries(o.props)
    .map(([k, v]) => `${snake(k)}=${renderPy(v)}`)
    .join(', ');

const comment = (from: string[], mark: string) => (from.length ? `  ${mark} ${from.join(', ')}` : '');

/** The TypeScript app: a stack class with the connector, and the app that synthesizes it. */
export function typeScriptApp(app: GeneratedApp): string {
  const { modules, library } = usedNames(app, 'typescript');
  const env = app.region ? `, { env: { region: '${app.region}' } }` : '';
  return [
    ...app.header.map((l) => `// ${l}`),
    ...modules.map((m) => `import * as ${m} from '${MODULES[m][0]}';`),
    `import { Construct } from 'constructs';`,
    `import { ${library.join(', ')} } from 'cdk-kafka-lambda';`,
    '',
    `export class ${app.stackClass} extends cdk.Stack {`,
    '  public readonly connector: LambdaSinkConnector;',
    '',
    '  constructor(scope: Construct, id: string, props?: cdk.StackProps) {',
    '    super(scope, id, props);',
    `    this.connector = new LambdaSinkConnector(this, '${app.constructId}', {`,
    ...app.props.map((p) => `      ${p.prop}: ${renderTs(p.value)},${comment(p.from, '//')}`),
    '    });',
    '  }',
    '}',
    '',
    'const app = new cdk.App();',
    `new ${app.stackClass}(app, '${app.stackName}'${env});`,
    '',
  ].join('\n');
}

/** The Python app, as examples/python/app.py is written. */
export function pythonApp(app: GeneratedApp): string {
  const { modules, library } = usedNames(app, 'python');
  const env = app.region ? `, env=cdk.Environment(region=${JSON.stringify(app.region)})` : '';
  return [
    ...app.header.map((l) => `# ${l}`),
    'import aws_cdk as cdk',
    ...modules.filter((m) => m !== 'cdk').map((m) => `from aws_cdk import ${MODULES[m][1].split('.')[1]} as ${MODULES[m][2]}`),
    'from constructs import Construct',
    '',
    `from cdk_kafka_lambda import ${library.join(', ')}`,
    '',
    '',
    `class ${app.stackClass}(cdk.Stack):`,
    '    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:',
    '        super().__init__(scope, construct_id, **kwargs)',
    '        self.connector = LambdaSinkConnector(',
    `            self, ${JSON.stringify(app.constructId)},`,
    ...app.props.map((p) => `            ${snake(p.prop)}=${renderPy(p.value)},${comment(p.from, '#')}`),
    '        )',
    '',
    '',
    'app = cdk.App()',
    `${app.stackClass}(app, ${JSON.stringify(app.stackName)}${env})`,
    'app.synth()',
    '',
  ].join('\n');
}
