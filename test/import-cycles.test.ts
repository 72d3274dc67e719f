import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// madge v8 has no type declarations of its own.
const madge = require('madge');

const root = path.join(__dirname, '..');

/**
 * The import cycles among the TypeScript files under `dirs`. Type-only imports count (skipTypeImports: false): a loop
 * of types is still a loop a reader must untangle, and it comes back as a value loop at the first value moved along
 * it. `require` of a relative path counts too (mixedImports).
 */
async function importCycles(baseDir: string, dirs: string[]): Promise<{ cycles: string[][]; unresolved: string[] }> {
  const graph = await madge(
    dirs.map((d) => path.join(baseDir, d)),
    {
      baseDir,
      fileExtensions: ['ts'],
      tsConfig: path.join(root, 'tsconfig.json'),
      detectiveOptions: { ts: { skipTypeImports: false, mixedImports: true } },
    },
  );
  return { cycles: graph.circular(), unresolved: graph.warnings().skipped };
}

describe('imports', () => {
  test('no module of the constructs, the runtime, the contract, the emulator or the fault ledger imports itself back', async () => {
    // GIVEN the sources that ship or run (lib/, runtime/, contract/, cli/, e2e/)
    const dirs = ['lib', 'runtime', 'contract', 'cli', 'e2e'];
    // WHEN madge follows their imports, type-only ones included
    const { cycles, unresolved } = await importCycles(root, dirs);
    // THEN none leads back to where it started, and every relative import was followed (none unresolved)
    expect(cycles).toEqual([]);
    expect(unresolved).toEqual([]);
  });

  describe('the check', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-cycles-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('finds a loop of type-only imports', async () => {
      // GIVEN a.ts importing a type from b.ts, which imports a type from a.ts back (c.ts outside the loop)
      fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport interface A { readonly b?: B }\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './a';\nexport interface B { readonly a?: A }\n");
      fs.writeFileSync(path.join(dir, 'c.ts'), "import { A } from './a';\nexport const c: A = {};\n");
      // WHEN the check runs on them
      const { cycles } = await importCycles(dir, ['.']);
      // THEN it reports the loop, and only it
      expect(cycles).toEqual([['a.ts', 'b.ts']]);
    });
  });
});
