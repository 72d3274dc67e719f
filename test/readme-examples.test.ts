/**
 * Every TypeScript example in README.md compiles against this package, as jsii-rosetta compiles them for the Python,
 * Java and Go docs: a ```ts block is completed with a fixture, `rosetta/<name>.ts-fixture` (the block replaces its
 * `/// here` line and the block's imports go to the top): `fixture=<name>` in the block's info string picks one,
 * `nofixture` takes the block as a whole module, and `rosetta/default.ts-fixture` serves the rest. A block with
 * `lit=<file>` is the visible part of that file (between `/// !show` and `/// !hide`), which is compiled where it
 * lies. `cdk-kafka-lambda` resolves to lib/index.ts and `cdk-kafka-lambda/runtime` to runtime/index.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { parseMetadataLine, SnippetLocation, SnippetParameters, typeScriptSnippetFromCompleteSource, typeScriptSnippetFromVisibleSource } from 'jsii-rosetta';

/** The fixture step jsii-rosetta runs before it compiles an example (its package exports only its index). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fixturize } = require(path.join(path.dirname(require.resolve('jsii-rosetta')), 'fixtures')) as typeof import('jsii-rosetta/lib/fixtures');

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..');

interface Block {
  /** The README line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly params: Record<string, string>;
}

/** The ```ts and ```typescript blocks of a Markdown text. */
export function typeScriptBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(?:ts|typescript)(?:\s+(.*))?$/.exec(lines[i]);
    if (open === null) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`line ${i + 1}: the code block is not closed`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), params: parseMetadataLine(open[1] ?? '') });
    i = end;
  }
  return blocks;
}

/** One problem with a block, located by its README line (the fence, or the offending line when it can be found). */
export interface ExampleProblem {
  readonly line: number;
  readonly message: string;
}

/**
 * Type-checks the TypeScript blocks of `markdown` (a file of `projectDir`, fixtures from its rosetta/ folder) and
 * returns what is wrong with them: compile errors, and `lit=` blocks that differ from their file.
 */
export function checkExamples(markdown: string, projectDir: string, fileName = 'README.md'): ExampleProblem[] {
  const blocks = typeScriptBlocks(markdown);
  const problems: ExampleProblem[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'));
  try {
    // The examples resolve packages as a user's project does: from a node_modules beside them.
    fs.symlinkSync(path.join(projectDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const files = new Map<string, Block>();
    for (const block of blocks) {
      const location: SnippetLocation = { api: { api: 'file', fileName }, field: { field: 'markdown', line: block.line } };
      if (block.params[SnippetParameters.LITERATE_SOURCE] !== undefined) {
        const file = path.resolve(projectDir, block.params.lit);
        if (!fs.existsSync(file)) {
          problems.push({ line: block.line, message: `lit=${block.params.lit}: no such file` });
          continue;
        }
        const snippet = typeScriptSnippetFromCompleteSource(fs.readFileSync(file, 'utf8'), location, true);
        if (snippet.visibleSource !== block.code.trimEnd()) {
          problems.push({ line: block.line, message: `differs from the visible part of ${block.params.lit}:\n${firstDifference(block.code, snippet.visibleSource)}` });
        }
        files.set(file, block);
        continue;
      }
      const snippet = fixturize(typeScriptSnippetFromVisibleSource(block.code, location, true, { ...block.params, [SnippetParameters.$PROJECT_DIRECTORY]: projectDir }));
      const file = path.join(dir, `${path.basename(fileName, '.md')}-line-${block.line}.ts`);
      // Every example is a module of its own, also one without imports or exports.
      fs.writeFileSync(file, `${snippet.completeSource ?? snippet.visibleSource}\nexport {};\n`);
      files.set(file, block);
    }
    const program = ts.createProgram([...files.keys()], compilerOptions(projectDir));
    for (const [file, block] of files) {
      const source = program.getSourceFile(file)!;
      for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        const at = d.start === undefined ? '' : source.text.split('\n')[source.getLineAndCharacterOfPosition(d.start).line];
        // The README line of the offending line, when the block holds it once; else the fence's.
        const index = block.code.split('\n').findIndex((l) => at.trim() !== '' && l.trim() === at.trim());
        problems.push({ line: index < 0 ? block.line : block.line + 1 + index, message: `TS${d.code}: ${text}${at ? `\n    ${at.trim()}` : ''}` });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

/** The project's compiler options, with the package's own names resolved to its sources. */
function compilerOptions(projectDir: string): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(projectDir, 'tsconfig.json'), ts.sys.readFile).config;
  const { options } = ts.parseJsonConfigFileContent({ compilerOptions: config.compilerOptions }, ts.sys, projectDir);
  return {
    ...options,
    noEmit: true,
    declaration: false,
    // Examples are modules read by a person: what they declare for show need not be used.
    noUnusedLocals: false,
    noUnusedParameters: false,
    isolatedModules: false,
    types: ['node'],
    typeRoots: [path.join(projectDir, 'node_modules', '@types')],
    baseUrl: projectDir,
    paths: {
      'cdk-kafka-lambda': [path.join(projectDir, 'lib', 'index.ts')],
      'cdk-kafka-lambda/runtime': [path.join(projectDir, 'runtime', 'index.ts')],
    },
  };
}

function firstDifference(a: string, b: string): string {
  const x = a.trimEnd().split('\n');
  const y = b.split('\n');
  const i = x.findIndex((l, j) => l !== y[j]);
  const k = i < 0 ? x.length : i;
  return `    block line ${k + 1}: ${JSON.stringify(x[k] ?? '(end)')}\n    file:         ${JSON.stringify(y[k] ?? '(end)')}`;
}

const report = (problems: ExampleProblem[], fileName: string) => problems.map((p) => `${fileName}:${p.line}: ${p.message}`).join('\n');

describe('README.md examples', () => {
  test('every ```ts block compiles against this package, with its rosetta fixture', () => {
    // GIVEN the README's TypeScript examples
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(typeScriptBlocks(readme).length).toBeGreaterThanOrEqual(19);
    // WHEN they are type-checked THEN nothing is wrong with any of them
    expect(report(checkExamples(readme, ROOT), 'README.md')).toBe('');
  });

  test('the own-handler example is examples/own-handler/handler.ts, shown verbatim', () => {
    // GIVEN the README WHEN its own-handler block is found THEN it names the file it shows (which a test runs)
    const blocks = typeScriptBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.filter((b) => b.params.lit === 'examples/own-handler/handler.ts')).toHaveLength(1);
  });

  test('fails a block that does not compile, naming its README line', () => {
    // GIVEN a README with a good block and one passing a number where the construct takes a list
    const markdown = [
      '# t', '', '```ts', "import { KafkaCluster } from 'cdk-kafka-lambda';", '',
      "KafkaCluster.selfManaged({ bootstrapServers: ['b-1:9096'] });", '```', '',
      '```ts', "new KafkaTrigger(this, 'T', {", '  topics: 42,', '});', '```',
    ].join('\n');
    // WHEN it is checked
    const problems = checkExamples(markdown, ROOT);
    // THEN the bad block's offending line is reported, and nothing of the good one
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.line === 10 || p.line === 11)).toBe(true);
    expect(problems.map((p) => p.message).join('\n')).toMatch(/TS\d+: /);
  });

  test('fails a lit= block that differs from the visible part of its file', () => {
    // GIVEN a README whose block shows the own-handler example with one line changed
    const visible = typeScriptSnippetFromCompleteSource(fs.readFileSync(path.join(ROOT, 'examples', 'own-handler', 'handler.ts'), 'utf8'),
      { api: { api: 'file', fileName: 'x' } }, true).visibleSource;
    const markdown = ['```ts lit=examples/own-handler/handler.ts', visible.replace('auth: \'scram-sha-512\'', "auth: 'plain'"), '```'].join('\n');
    // WHEN it is checked THEN the block is reported as differing, at its fence
    const problems = checkExamples(markdown, ROOT);
    expect(problems).toHaveLength(1);
    expect(problems[0].line).toBe(1);
    expect(problems[0].message).toMatch(/^differs from the visible part of examples\/own-handler\/handler\.ts/);
  });
});
