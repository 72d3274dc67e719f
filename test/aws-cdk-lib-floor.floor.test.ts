import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const { FLOOR, floorModulesDir } = require('../scripts/lib/cdk-floor');

describe('the oldest supported aws-cdk-lib (the peer range minimum)', () => {
  test('the floor project loads exactly that aws-cdk-lib and constructs', () => {
    // GIVEN the floor project's module mapping WHEN the libraries' package.json are loaded THEN they are the floor's
    expect(require('aws-cdk-lib/package.json').version).toBe(FLOOR['aws-cdk-lib']);
    expect(require('constructs/package.json').version).toBe(FLOOR.constructs);
    expect(path.dirname(require.resolve('aws-cdk-lib'))).toBe(path.join(floorModulesDir(), 'aws-cdk-lib'));
  });

  test(
    'lib, bin and the tests type-check against its declarations',
    () => {
      // GIVEN the project's tsconfig with aws-cdk-lib and constructs resolved from the floor's node_modules
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-floor-tsc-'));
      const tsconfig = path.join(dir, 'tsconfig.json');
      const modules = floorModulesDir();
      fs.writeFileSync(
        tsconfig,
        JSON.stringify({
          extends: path.join(root, 'tsconfig.json'),
          compilerOptions: {
            noEmit: true,
            baseUrl: modules,
            typeRoots: [path.join(root, 'node_modules', '@types')],
            paths: { 'aws-cdk-lib': ['aws-cdk-lib'], 'aws-cdk-lib/*': ['aws-cdk-lib/*'], constructs: ['constructs'] },
          },
        }),
      );
      try {
        // WHEN tsc compiles everything the project type-checks
        let out: string;
        try {
          out = execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', tsconfig, '--listFiles'], {
            cwd: root,
            encoding: 'utf8',
          });
        } catch (e: any) {
          out = `${e.stdout}`;
        }
        // THEN no error, and every aws-cdk-lib declaration it read is the floor's
        expect(out.split('\n').filter((l) => l.includes('error TS'))).toEqual([]);
        const cdkFiles = out.split('\n').filter((l) => l.includes('/node_modules/aws-cdk-lib/'));
        expect(cdkFiles.length).toBeGreaterThan(100);
        expect(cdkFiles.filter((f) => !f.startsWith(modules))).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    5 * 60 * 1000,
  );
});
