import { LocalEsmConfigError } from '../../../cli/errors';
import { recordFilter } from '../../../cli/kafka/filter';

const match = (patterns: string[], value: string | null) => recordFilter(patterns)!(value === null ? null : Buffer.from(value));
const json = (o: unknown) => JSON.stringify(o);

describe('event filtering of the local event source mapping', () => {
  test('no filters: every record is sent', () => {
    expect(recordFilter(undefined)).toBeUndefined();
    expect(recordFilter([])).toBeUndefined();
  });

  test.each([
    // the Lambda guide's Kafka example: device_ID begins with AB
    [
      'prefix on a JSON value',
      { value: { device_ID: [{ prefix: 'AB' }] } },
      { device_ID: 'AB1234', session: { duration: 162 } },
      true,
    ],
    ['prefix not matching', { value: { device_ID: [{ prefix: 'AB' }] } }, { device_ID: 'XY1234' }, false],
    ['a plain-text value matched as text', { value: [{ prefix: 'Hello' }] }, 'Hello, this is a test.', true],
    ['a text rule on a JSON value does not match', { value: [{ prefix: '{' }] }, { a: 1 }, false],
    ['equals (OR within the list)', { value: { type: ['order', 'refund'] } }, { type: 'refund' }, true],
    ['equals on a number', { value: { n: [5] } }, { n: 5 }, true],
    ['AND across keys', { value: { type: ['order'], region: ['eu'] } }, { type: 'order', region: 'us' }, false],
    ['nested objects', { value: { session: { duration: [{ numeric: ['>', 100] }] } } }, { session: { duration: 162 } }, true],
    ['numeric range', { value: { n: [{ numeric: ['>', 0, '<=', 5] }] } }, { n: 6 }, false],
    ['numeric on a string does not match', { value: { n: [{ numeric: ['>', 0] }] } }, { n: '7' }, false],
    ['exists true', { value: { id: [{ exists: true }] } }, { id: null }, true],
    ['exists false', { value: { id: [{ exists: false }] } }, { other: 1 }, true],
    ['exists false on a present field', { value: { id: [{ exists: false }] } }, { id: 1 }, false],
    ['null', { value: { id: [null] } }, { id: null }, true],
    ['empty string', { value: { id: [''] } }, { id: '' }, true],
    ['anything-but a list', { value: { state: [{ 'anything-but': ['done', 'failed'] }] } }, { state: 'done' }, false],
    ['anything-but passes others', { value: { state: [{ 'anything-but': ['done'] }] } }, { state: 'new' }, true],
    ['anything-but a prefix', { value: { state: [{ 'anything-but': { prefix: 'test-' } }] } }, { state: 'test-1' }, false],
    ['anything-but needs the field', { value: { state: [{ 'anything-but': ['done'] }] } }, {}, false],
    ['suffix', { value: { file: [{ suffix: '.png' }] } }, { file: 'a.png' }, true],
    ['equals-ignore-case', { value: { c: [{ 'equals-ignore-case': 'EU' }] } }, { c: 'eu' }, true],
    ['an array field matches when one element does', { value: { tags: ['red'] } }, { tags: ['blue', 'red'] }, true],
    ['$or', { value: { $or: [{ a: [1] }, { b: [2] }] } }, { b: 2 }, true],
    ['$or with no branch matching', { value: { $or: [{ a: [1] }, { b: [2] }] } }, { b: 3 }, false],
  ])('%s', (_, pattern, value, expected) => {
    // GIVEN a pattern WHEN a record's value is matched THEN it is sent or skipped as Lambda would
    expect(match([json(pattern)], typeof value === 'string' ? value : json(value))).toBe(expected);
  });

  test('several filters: a record is sent when any matches; a tombstone matches only what a null value would', () => {
    const patterns = [json({ value: { type: ['a'] } }), json({ value: { type: ['b'] } })];
    expect(match(patterns, json({ type: 'b' }))).toBe(true);
    expect(match(patterns, json({ type: 'c' }))).toBe(false);
    expect(match([json({ value: [null] })], null)).toBe(true);
    expect(match([json({ value: { type: ['a'] } })], null)).toBe(false);
  });

  test.each([
    ['not JSON', '{value', /filters\[0\]: the pattern is not JSON/],
    ['not an object', '[1]', /filters\[0\]: the pattern must be a JSON object/],
    ['a key other than value', json({ key: ['x'] }), /filter on "value" only, the pattern names "key"/],
    ['an unknown operator', json({ value: { a: [{ contains: 'x' }] } }), /filters\[0\]\.value\.a: unknown operator "contains"/],
    ['a numeric rule without a number', json({ value: { a: [{ numeric: ['>', 'x'] }] } }), /numeric takes pairs of a comparison/],
    ['exists with a string', json({ value: { a: [{ exists: 'yes' }] } }), /exists takes true or false/],
    [
      'a bare value instead of a list',
      json({ value: { a: 'x' } }),
      /filters\[0\]\.value\.a: expected an array of rules or a nested pattern, got "x"/,
    ],
    ['$or with one branch', json({ value: { $or: [{ a: [1] }] } }), /\$or takes an array of at least two patterns/],
  ])('fails with LocalEsmConfigError for %s', (_, pattern, message) => {
    expect(() => recordFilter([pattern])).toThrow(LocalEsmConfigError);
    expect(() => recordFilter([pattern])).toThrow(message);
  });
});
