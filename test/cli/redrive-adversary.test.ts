/**
 * Adversarial tests of the redrive state file (no network: each run stops before it reads a source): a corrupt state
 * file, and the lock two runs with one state file contend for, also after a run was killed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseRedriveArgs } from '../../cli/redrive/options';
import { redrive } from '../../cli/redrive/redrive';

describe('redrive state file, attacked', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-state-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const io = { out: () => undefined, err: () => undefined };
  // A queue on a closed port: a run that got past the state file fails to reach it instead of waiting.
  const options = (stateFile: string) =>
    parseRedriveArgs([
      '--from-sqs',
      'http://127.0.0.1:9/000000000000/q',
      '--aws-endpoint',
      'http://127.0.0.1:9',
      '--region',
      'us-east-1',
      '--function-name',
      'f',
      '--state-file',
      stateFile,
    ]);

  test.each([
    ['not JSON (cut off by a full disk, edited by hand)', '{"version":1,"done":["orders-0@1'],
    ['done not a list of coordinates', '{"version":1,"done":"orders-0@1"}'],
    ['another version', '{"version":2,"done":[]}'],
  ])(
    'GIVEN a state file %s WHEN redrive runs THEN it stops naming the state file, before it reads any source',
    async (_, body) => {
      const file = path.join(dir, `corrupt-${Math.random()}.json`);
      fs.writeFileSync(file, body);
      await expect(redrive(options(file), io)).rejects.toThrow(new RegExp(`state file ${file.replace(/[.]/g, '\\.')}`));
      // AND the state file is left as it was, and its lock released
      expect(fs.readFileSync(file, 'utf8')).toBe(body);
      expect(fs.existsSync(`${file}.lock`)).toBe(false);
    },
  );

  test('GIVEN a run holding the state file WHEN a second run starts with it THEN the second stops naming the lock', async () => {
    const file = path.join(dir, 'held.json');
    fs.writeFileSync(`${file}.lock`, String(process.pid)); // a live process holds it
    await expect(redrive(options(file), io)).rejects.toThrow(/in use by another redrive \(process \d+, .*held\.json\.lock\)/);
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
  });

  test('GIVEN the lock of a run that was killed (its process gone) WHEN a run starts THEN it takes the lock over', async () => {
    const file = path.join(dir, 'stale.json');
    fs.writeFileSync(file, '{"version":1,"done":[');
    fs.writeFileSync(`${file}.lock`, '4194303'); // above any pid Linux hands out by default
    // THEN it got past the lock to the state file (which it names as corrupt), and released the lock
    await expect(redrive(options(file), io)).rejects.toThrow(/state file .*stale\.json/);
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });
});
