/** The in-process ledger's reading of the user's effects log and its count of invocations a kill cut off mid-batch. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as te from '../../testenv';
import { midBatch, readUserCodeLog, UserCodeLine } from '../../e2e/in-process';

/** A mapping's event of partition 0's offsets 0-3, started at t=1000, as the Lambda front records it. */
const invocation = {
  at: 1000,
  payload: JSON.stringify({ records: { 't-0': [0, 1, 2, 3].map((offset) => ({ topic: 't', partition: 0, offset })) } }),
} as te.InvocationRecord;
const effect = (offset: number, at: number): UserCodeLine => ({ partition: 0, offset, pid: 1, at });

describe('in-process effects', () => {
  test('an invocation killed with some of its records applied was cut off mid-batch', () => {
    expect(midBatch(invocation, [effect(0, 1100), effect(1, 1200)], 1300)).toBe(true);
  });

  test.each([
    ['none of its records applied', [] as UserCodeLine[]],
    ['every record applied', [0, 1, 2, 3].map((o) => effect(o, 1100))],
    ['its records applied only by an earlier invocation', [effect(0, 900), effect(1, 950)]],
    ['its records applied only after the kill', [effect(0, 1400)]],
    ["another partition's records applied", [{ ...effect(0, 1100), partition: 1 }]],
  ])('fails to count an invocation with %s', (_what, effects) => {
    expect(midBatch(invocation, effects, 1300)).toBe(false);
  });

  test('the log is read by kind, and a line still being written is left for the next read', () => {
    // GIVEN a log with a start, an effect, a throw and half a line
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-effects-'));
    const file = path.join(dir, 'effects.jsonl');
    fs.writeFileSync(
      file,
      [
        { kind: 'init', runtime: '/opt/nodejs/node_modules/cdk-kafka-lambda/runtime/index.js', pid: 1, at: 1 },
        { kind: 'effect', partition: 0, offset: 0, pid: 1, at: 2 },
        { kind: 'threw', partition: 0, offset: 1, pid: 1, at: 3 },
      ]
        .map((l) => `${JSON.stringify(l)}\n`)
        .join('') + '{"kind":"eff',
    );
    // WHEN it is read THEN each kind is there once and the half line is not
    const log = readUserCodeLog(file);
    fs.rmSync(dir, { recursive: true, force: true });
    expect([log.inits.length, log.effects.length, log.threw.length]).toEqual([1, 1, 1]);
    expect(log.effects[0]).toMatchObject({ partition: 0, offset: 0 });
  });

  test('a missing log is empty', () => {
    expect(readUserCodeLog(path.join(os.tmpdir(), 'ckl-no-such-effects.jsonl')).effects).toEqual([]);
  });
});
