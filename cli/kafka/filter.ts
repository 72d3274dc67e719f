/**
 * Event filtering as a Kafka event source mapping applies it (FilterCriteria): a record is sent to the function
 * when any filter's pattern matches it; the others are skipped and their offsets committed. Kafka mappings filter
 * on `value` only: a value that is JSON is matched as the parsed object, any other value as its text.
 *
 * Pattern rules (Lambda's filter rule syntax): an object's keys must all match (AND); a key's array of rules
 * matches when any rule does (OR), and a field holding an array matches when any element does; `$or` takes
 * sub-patterns of which one must match. Rules: a string, number, boolean or null (equals), `prefix`, `suffix`,
 * `equals-ignore-case`, `anything-but` (a value, a list, or `{ prefix | suffix }`), `numeric` (comparisons
 * `=`, `<`, `<=`, `>`, `>=`, in pairs for a range), `exists` (true or false).
 */
import { LocalEsmConfigError } from '../errors';

type Pattern = { readonly [key: string]: unknown };
/** A field's values: none when the field is absent. */
type Values = readonly unknown[];

const MISSING: Values = [];

/** Parses and checks Pattern JSON texts; returns a predicate over a record's decoded value, or undefined for no filters. */
export function recordFilter(patterns: readonly string[] | undefined): ((value: Buffer | null) => boolean) | undefined {
  if (!patterns?.length) return undefined;
  const parsed = patterns.map((text, i) => {
    let p: unknown;
    try {
      p = JSON.parse(text);
    } catch (e) {
      throw new LocalEsmConfigError(`filters[${i}]: the pattern is not JSON (${(e as Error).message}): ${text}`);
    }
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw new LocalEsmConfigError(`filters[${i}]: the pattern must be a JSON object, got ${text}`);
    const other = Object.keys(p).filter((k) => k !== 'value');
    if (other.length)
      throw new LocalEsmConfigError(
        `filters[${i}]: Kafka event source mappings filter on "value" only, the pattern names ${other.map((k) => JSON.stringify(k)).join(', ')}`,
      );
    checkPattern(p as Pattern, `filters[${i}]`);
    return p as Pattern;
  });
  return (value) => {
    const subject = { value: value === null ? null : parseValue(value.toString('utf8')) };
    return parsed.some((p) => matchesPattern(p, subject));
  };
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function matchesPattern(pattern: Pattern, subject: unknown): boolean {
  for (const [key, rule] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(rule as Pattern[]).some((p) => matchesPattern(p, subject))) return false;
      continue;
    }
    const field =
      typeof subject === 'object' && subject !== null && !Array.isArray(subject) && key in subject
        ? (subject as Record<string, unknown>)[key]
        : undefined;
    if (Array.isArray(rule)) {
      const values = field === undefined ? MISSING : Array.isArray(field) ? field : [field];
      if (!rule.some((r) => matchesRule(r, values))) return false;
    } else if (field === undefined || !matchesPattern(rule as Pattern, field)) {
      return false;
    }
  }
  return true;
}

function matchesRule(rule: unknown, values: Values): boolean {
  if (rule === null || typeof rule !== 'object') return values.some((v) => v === rule);
  const [op, arg] = Object.entries(rule)[0];
  switch (op) {
    case 'exists':
      return values.length > 0 === arg;
    case 'prefix':
      return values.some((v) => typeof v === 'string' && v.startsWith(arg as string));
    case 'suffix':
      return values.some((v) => typeof v === 'string' && v.endsWith(arg as string));
    case 'equals-ignore-case':
      return values.some((v) => typeof v === 'string' && v.toLowerCase() === (arg as string).toLowerCase());
    case 'numeric':
      return values.some((v) => typeof v === 'number' && numeric(arg as unknown[], v));
    case 'anything-but':
      return values.some((v) => !anythingButExcludes(arg, v));
    default:
      return false;
  }
}

function anythingButExcludes(arg: unknown, v: unknown): boolean {
  if (Array.isArray(arg)) return arg.includes(v);
  if (typeof arg === 'object' && arg !== null) {
    const [op, s] = Object.entries(arg)[0] as [string, string];
    return typeof v === 'string' && (op === 'prefix' ? v.startsWith(s) : v.endsWith(s));
  }
  return v === arg;
}

function numeric(conditions: readonly unknown[], v: number): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const bound = conditions[i + 1] as number;
    const ok = { '=': v === bound, '<': v < bound, '<=': v <= bound, '>': v > bound, '>=': v >= bound }[conditions[i] as string];
    if (!ok) return false;
  }
  return true;
}

/** Rejects what the matcher would not understand, naming where, so a typo does not silently drop records. */
function checkPattern(pattern: Pattern, where: string): void {
  for (const [key, rule] of Object.entries(pattern)) {
    const at = `${where}.${key}`;
    if (key === '$or') {
      if (!Array.isArray(rule) || rule.length < 2)
        throw new LocalEsmConfigError(`${at}: $or takes an array of at least two patterns`);
      rule.forEach((p, i) => checkPattern(p as Pattern, `${at}[${i}]`));
    } else if (Array.isArray(rule)) {
      rule.forEach((r) => checkRule(r, at));
    } else if (typeof rule === 'object' && rule !== null) {
      checkPattern(rule as Pattern, at);
    } else {
      throw new LocalEsmConfigError(`${at}: expected an array of rules or a nested pattern, got ${JSON.stringify(rule)}`);
    }
  }
}

const COMPARISONS = new Set(['=', '<', '<=', '>', '>=']);

function checkRule(rule: unknown, at: string): void {
  if (rule === null || typeof rule !== 'object') return;
  const entries = Object.entries(rule);
  const fail = (what: string) => {
    throw new LocalEsmConfigError(`${at}: ${what}, got ${JSON.stringify(rule)}`);
  };
  if (entries.length !== 1) fail('a rule object has exactly one operator');
  const [op, arg] = entries[0];
  switch (op) {
    case 'exists':
      if (typeof arg !== 'boolean') fail('exists takes true or false');
      break;
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof arg !== 'string') fail(`${op} takes a string`);
      break;
    case 'numeric': {
      const ok =
        Array.isArray(arg) &&
        arg.length > 0 &&
        arg.length % 2 === 0 &&
        arg.every((x, i) => (i % 2 === 0 ? COMPARISONS.has(x as string) : typeof x === 'number'));
      if (!ok) fail('numeric takes pairs of a comparison (=, <, <=, >, >=) and a number');
      break;
    }
    case 'anything-but': {
      const nested = typeof arg === 'object' && arg !== null && !Array.isArray(arg);
      if (
        nested &&
        !(
          Object.keys(arg).length === 1 &&
          ['prefix', 'suffix'].includes(Object.keys(arg)[0]) &&
          typeof Object.values(arg)[0] === 'string'
        )
      ) {
        fail('anything-but takes a value, a list of values, or { prefix } / { suffix }');
      }
      break;
    }
    default:
      fail(`unknown operator "${op}" (prefix, suffix, equals-ignore-case, anything-but, numeric, exists)`);
  }
}
