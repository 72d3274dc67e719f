/**
 * The construct library runs in the user's CDK app, on the user's Node.js: its unit tests run again on each other
 * Node.js major the package supports (`engines`), installed from the npm registry into the test cache. The suite itself
 * runs on Node.js 24 (scripts/test.sh).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const install = require('../testenv/lib/install');

jest.setTimeout(900_000);

const ROOT = path.join(__dirname, '..');
/** The constructs' own tests: the dispatcher, the connector and the triggers (synth, validation, IAM, network). */
const CONSTRUCT_TESTS = ['test/dispatcher.test.ts', 'test/sink-connector.test.ts', 'test/trigger/'];

describe.each(install.VERSIONS.otherNodes as string[])('the construct library on Node.js %s', (version) => {
  test('its unit tests pass', async () => {
    // GIVEN Node.js of that major from the npm registry
    const node: { bin: string } = await install.ensureNode(version);
    // WHEN jest runs the construct tests on it
    const run = spawnSync(
      node.bin,
      [
        path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
        ...CONSTRUCT_TESTS,
        '--selectProjects',
        'unit',
        '--ci',
        '--silent',
        '--maxWorkers=1',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CKL_SUMMARY_FILE: '' },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    // THEN every test passes, and it was that Node that ran them
    const summary = /Tests:\s+(?:(\d+) failed, )?(\d+) passed/.exec(run.stderr);
    expect({ status: run.status, failed: summary?.[1] ?? '0', tail: run.status === 0 ? '' : run.stderr.slice(-2000) }).toEqual({
      status: 0,
      failed: '0',
      tail: '',
    });
    expect(Number(summary?.[2])).toBeGreaterThan(100);
    expect(spawnSync(node.bin, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${version}`);
  });
});
