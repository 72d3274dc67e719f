/**
 * Every TypeScript example in README.md and docs/*.md compiles against this package, as jsii-rosetta compiles them
 * for the Python, Java and Go docs: a ```ts block is completed with a fixture, `rosetta/<name>.ts-fixture` (the block replaces its
 * `/// here` line and the block's imports go to the top): `fixture=<name>` in the block's info string picks one,
 * `nofixture` takes the block as a whole module, and `rosetta/default.ts-fixture` serves the rest. A block with
 * `lit=<file>` is the visible part of that file (between `/// !show` and `/// !hide`), which is compiled where it
 * lies. `cdk-kafka-lambda` resolves to lib/index.ts and `cdk-kafka-lambda/runtime` to runtime/index.ts. A ```python
 * block shows lines of the file its `file=<path>` names (the example app a test runs), in order, with `...` for lines
 * left out. Every relative link of these pages names a file that exists and, with `#anchor`, a heading it has.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import {
  parseMetadataLine,
  SnippetLocation,
  SnippetParameters,
  typeScriptSnippetFromCompleteSource,
  typeScriptSnippetFromVisibleSource,
} from 'jsii-rosetta';

/** The fixture step jsii-rosetta runs before it compiles an example (its package exports only its index). */

const { fixturize } = require(
  path.join(path.dirname(require.resolve('jsii-rosetta')), 'fixtures'),
) as typeof import('jsii-rosetta/lib/fixtures');

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..');

/** The pages whose examples and links are checked: the README and every page under docs/. */
const PAGES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

interface Block {
  /** The page line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly params: Record<string, string>;
}

/** The fenced blocks of a Markdown text whose info string starts with one of `languages`. */
function fencedBlocks(markdown: string, languages: string[]): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)(?:\s+(.*))?$/.exec(lines[i]);
    if (open === null) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`line ${i + 1}: the code block is not closed`);
    if (languages.includes(open[1])) {
      blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), params: parseMetadataLine(open[2] ?? '') });
    }
    i = end;
  }
  return blocks;
}

/** The ```ts and ```typescript blocks of a Markdown text. */
export function typeScriptBlocks(markdown: string): Block[] {
  return fencedBlocks(markdown, ['ts', 'typescript']);
}

/** One problem with a block, located by its page line (the fence, or the offending line when it can be found). */
export interface ExampleProblem {
  /** The page, as given to `checkPages`. */
  readonly fileName: string;
  /** The line of the block's opening fence. */
  readonly block: number;
  readonly line: number;
  readonly message: string;
}

/**
 * Type-checks the TypeScript blocks of `markdown` (a file of `projectDir`, fixtures from its rosetta/ folder) and
 * returns what is wrong with them: compile errors, and `lit=` blocks that differ from their file.
 */
export function checkExamples(markdown: string, projectDir: string, fileName = 'README.md'): ExampleProblem[] {
  return checkPages([{ fileName, markdown }], projectDir);
}

/** `checkExamples` for several pages at once, in one compilation. */
export function checkPages(pages: { fileName: string; markdown: string }[], projectDir: string): ExampleProblem[] {
  const problems: ExampleProblem[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'));
  try {
    // The examples resolve packages as a user's project does: from a node_modules beside them.
    fs.symlinkSync(path.join(projectDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const files = new Map<string, { fileName: string; block: Block }>();
    for (const { fileName, markdown } of pages) {
      for (const block of typeScriptBlocks(markdown)) {
        const problem = (line: number, message: string) => problems.push({ fileName, block: block.line, line, message });
        const location: SnippetLocation = { api: { api: 'file', fileName }, field: { field: 'markdown', line: block.line } };
        if (block.params[SnippetParameters.LITERATE_SOURCE] !== undefined) {
          const file = path.resolve(projectDir, block.params.lit);
          if (!fs.existsSync(file)) {
            problem(block.line, `lit=${block.params.lit}: no such file`);
            continue;
          }
          const snippet = typeScriptSnippetFromCompleteSource(fs.readFileSync(file, 'utf8'), location, true);
          if (snippet.visibleSource !== block.code.trimEnd()) {
            problem(
              block.line,
              `differs from the visible part of ${block.params.lit}:\n${firstDifference(block.code, snippet.visibleSource)}`,
            );
          }
          files.set(file, { fileName, block });
          continue;
        }
        const snippet = fixturize(
          typeScriptSnippetFromVisibleSource(block.code, location, true, {
            ...block.params,
            [SnippetParameters.$PROJECT_DIRECTORY]: projectDir,
          }),
        );
        const file = path.join(dir, `${fileName.replace(/\.md$/, '').replace(/[^A-Za-z0-9-]/g, '_')}-line-${block.line}.ts`);
        // Every example is a module of its own, also one without imports or exports.
        fs.writeFileSync(file, `${snippet.completeSource ?? snippet.visibleSource}\nexport {};\n`);
        files.set(file, { fileName, block });
      }
    }
    const program = ts.createProgram([...files.keys()], compilerOptions(projectDir));
    for (const [file, { fileName, block }] of files) {
      const source = program.getSourceFile(file)!;
      for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        const at = d.start === undefined ? '' : source.text.split('\n')[source.getLineAndCharacterOfPosition(d.start).line];
        // The page line of the offending line, when the block holds it once; else the fence's.
        const index = block.code.split('\n').findIndex((l) => at.trim() !== '' && l.trim() === at.trim());
        problems.push({
          fileName,
          block: block.line,
          line: index < 0 ? block.line : block.line + 1 + index,
          message: `TS${d.code}: ${text}${at ? `\n    ${at.trim()}` : ''}`,
        });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

/**
 * What is wrong with a ```python block that shows lines of `file=<path>`: no `file=`, no such file, or a line that is
 * not the file's next line (`...` skips any number of lines).
 */
export function checkExcerpt(block: Block, projectDir: string): string | undefined {
  const named = block.params.file;
  if (named === undefined) return 'a ```python block names the file it shows with file=<path>';
  const file = path.resolve(projectDir, named);
  if (!fs.existsSync(file)) return `file=${named}: no such file`;
  const source = fs.readFileSync(file, 'utf8').split('\n');
  let at = 0;
  let skip = true; // an excerpt starts anywhere in its file
  for (const line of block.code.split('\n')) {
    if (line.trim() === '...') {
      skip = true;
      continue;
    }
    const found = skip ? source.indexOf(line, at) : source[at] === line ? at : -1;
    if (found < 0)
      return `${JSON.stringify(line)} is not the next line of ${named}${skip ? ' (after ...)' : ` (line ${at + 1} is ${JSON.stringify(source[at] ?? '(end)')})`}`;
    at = found + 1;
    skip = false;
  }
  return undefined;
}

/** The anchors GitHub gives a page's headings (github-slugger: lower case, punctuation dropped, spaces to '-'). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const text = heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The relative links of a page (outside code blocks) whose file or `#anchor` does not exist, with their lines. */
export function deadLinks(markdown: string, fileName: string, projectDir: string): string[] {
  const dead: string[] = [];
  let fenced = false;
  markdown.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) return;
    for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [file, anchor] = target.split('#', 2);
      const resolved = path.resolve(projectDir, path.dirname(fileName), file);
      if (file !== '' && !fs.existsSync(resolved)) {
        dead.push(`${fileName}:${i + 1}: ${target}: no such file`);
        continue;
      }
      if (anchor === undefined) continue;
      // A link within the page is resolved against the text given; another page's against its file.
      const anchors =
        file === ''
          ? headingAnchors(markdown)
          : resolved.endsWith('.md')
            ? headingAnchors(fs.readFileSync(resolved, 'utf8'))
            : new Set();
      if (!anchors.has(anchor)) dead.push(`${fileName}:${i + 1}: ${target}: no heading with that anchor`);
    }
  });
  return dead;
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

const report = (problems: ExampleProblem[]) => problems.map((p) => `${p.fileName}:${p.line}: ${p.message}`).join('\n');

const markdownOf = (page: string) => fs.readFileSync(path.join(ROOT, page), 'utf8');

// One compilation of every page's TypeScript examples; each block's test reads its own problems from it.
let problems: ExampleProblem[] | undefined;
const problemsOf = (page: string, block: number) => {
  problems ??= checkPages(
    PAGES.map((fileName) => ({ fileName, markdown: markdownOf(fileName) })),
    ROOT,
  );
  return problems.filter((p) => p.fileName === page && p.block === block);
};

describe.each(PAGES)('%s', (page) => {
  const markdown = markdownOf(page);

  for (const block of typeScriptBlocks(markdown)) {
    test(`the \`\`\`ts block at ${page}:${block.line} compiles against this package, with its rosetta fixture`, () => {
      // GIVEN the block WHEN every page's examples are type-checked THEN nothing is wrong with this one
      expect(report(problemsOf(page, block.line))).toBe('');
    });
  }

  for (const block of fencedBlocks(markdown, ['python'])) {
    test(`the \`\`\`python block at ${page}:${block.line} shows the lines of the file it names`, () => {
      // GIVEN the block WHEN its lines are looked up in its file THEN they are there, in order
      expect(checkExcerpt(block, ROOT)).toBeUndefined();
    });
  }

  test('its relative links name files and headings that exist', () => {
    // GIVEN the page WHEN each link to a file of the repository (and its #anchor) is resolved THEN none is dead
    expect(deadLinks(markdown, page, ROOT)).toEqual([]);
  });
});

describe('the pages together', () => {
  test('hold every example: the README and each docs/ page with ```ts blocks', () => {
    // GIVEN every page WHEN their TypeScript blocks are counted THEN the examples moved out of the README are all there
    const count = PAGES.reduce((n, page) => n + typeScriptBlocks(markdownOf(page)).length, 0);
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/dispatcher.md', 'docs/trigger.md']));
    expect(count).toBeGreaterThanOrEqual(22);
  });

  test('the own-handler example is examples/own-handler/handler.ts, shown verbatim', () => {
    // GIVEN every page WHEN the own-handler block is found THEN it is one block naming the file it shows (which a test runs)
    const blocks = PAGES.flatMap((page) => typeScriptBlocks(markdownOf(page)));
    expect(blocks.filter((b) => b.params.lit === 'examples/own-handler/handler.ts')).toHaveLength(1);
  });

  test('fails a block that does not compile, naming its README line', () => {
    // GIVEN a README with a good block and one passing a number where the construct takes a list
    const markdown = [
      '# t',
      '',
      '```ts',
      "import { KafkaCluster } from 'cdk-kafka-lambda';",
      '',
      "KafkaCluster.selfManaged({ bootstrapServers: ['b-1:9096'] });",
      '```',
      '',
      '```ts',
      "new KafkaTrigger(this, 'T', {",
      '  topics: 42,',
      '});',
      '```',
    ].join('\n');
    // WHEN it is checked
    const problems = checkExamples(markdown, ROOT);
    // THEN the bad block's offending line is reported, and nothing of the good one
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.block === 9)).toBe(true);
    expect(problems.every((p) => p.line === 10 || p.line === 11)).toBe(true);
    expect(problems.map((p) => p.message).join('\n')).toMatch(/TS\d+: /);
  });

  test('fails a lit= block that differs from the visible part of its file', () => {
    // GIVEN a README whose block shows the own-handler example with one line changed
    const visible = typeScriptSnippetFromCompleteSource(
      fs.readFileSync(path.join(ROOT, 'examples', 'own-handler', 'handler.ts'), 'utf8'),
      { api: { api: 'file', fileName: 'x' } },
      true,
    ).visibleSource;
    const markdown = [
      '```ts lit=examples/own-handler/handler.ts',
      visible.replace("auth: 'scram-sha-512'", "auth: 'plain'"),
      '```',
    ].join('\n');
    // WHEN it is checked THEN the block is reported as differing, at its fence
    const problems = checkExamples(markdown, ROOT);
    expect(problems).toHaveLength(1);
    expect(problems[0].line).toBe(1);
    expect(problems[0].message).toMatch(/^differs from the visible part of examples\/own-handler\/handler\.ts/);
  });

  test('fails a link to a missing file or heading, naming the page line', () => {
    // GIVEN a page in docs/ with a good link, a link to no file and a link to no heading
    const markdown = [
      '# t',
      '',
      '## A heading',
      '',
      '[ok](./trigger.md#main-props) [self](#a-heading)',
      '[gone](./nowhere.md)',
      '[anchor](../README.md#no-such-heading)',
    ].join('\n');
    // WHEN its links are checked THEN exactly the two dead ones are reported, with their lines
    expect(deadLinks(markdown, 'docs/x.md', ROOT)).toEqual([
      'docs/x.md:6: ./nowhere.md: no such file',
      'docs/x.md:7: ../README.md#no-such-heading: no heading with that anchor',
    ]);
  });

  test("fails a ```python block whose lines are not its file's", () => {
    // GIVEN excerpts of the Python example app: one true, one with a changed line, one naming no file
    const block = (code: string, params: Record<string, string>) => ({ line: 1, code, params });
    const file = { file: 'examples/python/app.py' };
    // WHEN each is checked THEN only the true one passes, and the others say what is wrong
    expect(checkExcerpt(block('import aws_cdk as cdk\n...\napp = cdk.App()', file), ROOT)).toBeUndefined();
    expect(checkExcerpt(block('...\napp = cdk.App(stack_traces=False)', file), ROOT)).toMatch(
      /is not the next line of examples\/python\/app\.py/,
    );
    expect(checkExcerpt(block('app = cdk.App()', {}), ROOT)).toMatch(/file=<path>/);
  });
});
