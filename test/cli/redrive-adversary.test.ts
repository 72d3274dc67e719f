/**
 * Adversarial tests of the redrive state file (no network: each run stops before it reads a source): a corrupt state
 * file, and the lock two runs with one state file contend for, also after a run was killed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseRedriveArgs } from '../../cli/redrive/options';
import { redrive } from '../../cli/redrive/redrive';
import { kafkaShape } from '../../cli/redrive/shapes';

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

describe('redrive: a function answering a malformed partial batch response, attacked', () => {
  const rec = (partition: number, offset: number) =>
    ({ topic: 't', partition, offset, timestamp: 0, timestampType: 'CREATE_TIME', key: null, value: 'eA==', headers: [] }) as any;
  const batch = [rec(0, 1), rec(0, 2), rec(1, 7)];
  const shape = kafkaShape({ bootstrapServers: 'b:9092' });

  test.each([
    ['batchItemFailures not a list', { batchItemFailures: 'all' }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['an itemIdentifier without partition', { batchItemFailures: [{ itemIdentifier: { offset: 1 } }] }],
    ['an offset that is not a number', { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 'first' } }] }],
  ])(
    'GIVEN a function answering %s WHEN redrive reads the answer THEN the whole batch failed (as the local mapping, and Lambda, take it), none is done',
    (_, response) => {
      expect(shape.failed(batch, response)).toEqual(batch);
    },
  );

  test('GIVEN a valid partial batch response WHEN read THEN the records from the lowest failed offset of each partition on failed', () => {
    expect(shape.failed(batch, { batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 2 } }] })).toEqual([
      rec(0, 2),
    ]);
    expect(shape.failed(batch, { batchItemFailures: [] })).toEqual([]);
    expect(shape.failed(batch, {})).toEqual([]);
  });
});
