/**
 * An in-memory DynamoDB for deterministic tests, usable where a DynamoDBClient is (`send(command)`): GetItem,
 * PutItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem, CreateTable and DeleteTable, on tables with a
 * hash key (and optionally a range key).
 *
 * Condition, update and projection expressions are evaluated by an interpreter of DynamoDB's expression grammar,
 * not matched against known strings: names (#x) and values (:v), nested paths (a.b, a[0]), SET with
 * if_not_exists, list_append, + and -, REMOVE, ADD, DELETE; conditions with = <> < <= > >=, BETWEEN, IN, AND, OR,
 * NOT, parentheses, attribute_exists, attribute_not_exists, attribute_type, begins_with, contains and size.
 * Requests are validated as DynamoDB does where a client could come to depend on it: unused or undefined
 * expression names and values, overlapping update paths, a key attribute in an update, the 400 KB item limit,
 * 100 keys a BatchGetItem and 25 requests a BatchWriteItem, duplicate keys in a batch.
 *
 * Every write is billed in write units by item size as DynamoDB bills it (1 unit per KB, rounded up, of the larger
 * of the item before and after; a failed conditional write bills too), read units likewise (4 KB a unit, strongly
 * consistent), per operation in `stats`.
 *
 * Faults come from `faults`, a function asked before every operation: it may throw an error by name
 * (ProvisionedThroughputExceededException, ThrottlingException, a TimeoutError before or after the write landed),
 * leave keys or items of a batch unprocessed, or hang (a promise that never resolves: the caller crashed there).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

/** What an operation is, for fault injection: its name and input. */
export interface OperationInfo {
  readonly name: OperationName;
  readonly input: any;
}

export type OperationName =
  'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchGetItem' | 'BatchWriteItem' | 'CreateTable' | 'DeleteTable';

/**
 * A fault for one operation:
 * - throw: fails with this error name before anything happens (throttling, a timeout before it reached the table);
 * - throwAfter: the operation takes effect, then the caller sees this error (a timeout after the write landed);
 * - unprocessed: a batch leaves this fraction (0..1) of its keys or items unprocessed (at least one is processed);
 * - hang: never answers.
 */
export type Fault =
  | { readonly kind: 'throw'; readonly name: string }
  | { readonly kind: 'throwAfter'; readonly name: string }
  | { readonly kind: 'unprocessed'; readonly fraction: number }
  | { readonly kind: 'hang' };

export interface OperationStats {
  count: number;
  writeUnits: number;
  readUnits: number;
  conditionalFailures: number;
}

/** DynamoDB's limits. */
export const MAX_ITEM_BYTES = 400 * 1024;
const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;

export interface Table {
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly items: Map<string, Item>;
}

/** An error shaped as the AWS SDK throws it: name, message, $fault and $metadata. */
export class DynamoDbError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata = { httpStatusCode: 400 };
  Item?: Item;
  constructor(name: string, message: string, extra: { Item?: Item } = {}) {
    super(message);
    this.name = name;
    this.$fault = name === 'InternalServerError' ? 'server' : 'client';
    if (name === 'ThrottlingException' || name === 'ProvisionedThroughputExceededException') this.$metadata.httpStatusCode = 400;
    if (name === 'TimeoutError') this.$metadata.httpStatusCode = 0;
    if (extra.Item !== undefined) this.Item = extra.Item;
  }
}

const validation = (message: string) => new DynamoDbError('ValidationException', message);

export class MemoryDynamoDb {
  readonly tables = new Map<string, Table>();
  private dry = false;
  readonly stats = new Map<OperationName, OperationStats>();
  /** Asked before each operation; undefined: no fault. */
  faults?: (op: OperationInfo) => Fault | undefined;
  /** Called after each operation that changed a table. */
  onWrite?: (op: OperationInfo) => void;
  /** Called with every operation any MemoryDynamoDb is asked for (not dry runs), before it runs: for capturing sequences. */
  static capture?: (op: OperationInfo) => void;

  createTable(name: string, hashKey: string, rangeKey?: string): void {
    if (this.tables.has(name)) throw new DynamoDbError('ResourceInUseException', `Table already exists: ${name}`);
    this.tables.set(name, { hashKey, rangeKey, items: new Map() });
  }

  /** The client surface: `send(command)`; the command's class name tells the operation. */
  async send(command: { input: any; constructor: { name: string } }, _options?: unknown): Promise<any> {
    const name = command.constructor.name.replace(/Command$/, '') as OperationName;
    return this.request(name, command.input);
  }

  /** Runs one operation by name; the fault is the one given, else the one `faults` names. */
  async request(name: OperationName, input: any, fault: Fault | undefined = this.faults?.({ name, input })): Promise<any> {
    if (!this.dry) MemoryDynamoDb.capture?.({ name, input: structuredClone(input) });
    if (fault?.kind === 'hang') return new Promise(() => undefined);
    if (fault?.kind === 'throw') throw new DynamoDbError(fault.name, `${fault.name} (injected)`);
    const out = this.execute(name, input, fault?.kind === 'unprocessed' ? fault.fraction : 0);
    if (name !== 'GetItem' && name !== 'BatchGetItem') this.onWrite?.({ name, input });
    if (fault?.kind === 'throwAfter')
      throw new DynamoDbError(fault.name, `${fault.name} (injected, after the operation took effect)`);
    return out;
  }

  /**
   * A client that reads this database and writes nowhere: a write is evaluated against a copy of the one item it
   * names (so conditions and ReturnValues answer as they would) and the copy is dropped; BatchWriteItem does nothing.
   * Nothing it does is billed.
   */
  dryRunClient(): { send(command: { input: any; constructor: { name: string } }): Promise<any> } {
    return {
      send: async (command) => {
        const name = command.constructor.name.replace(/Command$/, '') as OperationName;
        const input = command.input;
        if (name === 'BatchWriteItem') return { UnprocessedItems: {} };
        const scratch = new MemoryDynamoDb();
        scratch.dry = true;
        for (const [n, t] of this.tables) {
          if (name === 'GetItem' || name === 'BatchGetItem') {
            scratch.tables.set(n, t);
            continue;
          }
          const items = new Map<string, Item>();
          if (n === input.TableName) {
            const k = this.keyOf(t, input.Key ?? input.Item, input.Key === undefined);
            const item = t.items.get(k);
            if (item !== undefined) items.set(k, clone(item));
          }
          scratch.tables.set(n, { hashKey: t.hashKey, rangeKey: t.rangeKey, items });
        }
        return scratch.request(name, input, undefined);
      },
    };
  }

  /** A deep copy of every table, for comparing states or reading without side effects. */
  snapshot(): Map<string, Map<string, Item>> {
    const out = new Map<string, Map<string, Item>>();
    for (const [n, t] of this.tables) out.set(n, new Map([...t.items].map(([k, v]) => [k, clone(v)])));
    return out;
  }

  /** A separate database holding a copy of this one's tables, without faults. */
  copy(): MemoryDynamoDb {
    const db = new MemoryDynamoDb();
    for (const [n, t] of this.tables)
      db.tables.set(n, { hashKey: t.hashKey, rangeKey: t.rangeKey, items: new Map([...t.items].map(([k, v]) => [k, clone(v)])) });
    return db;
  }

  /** Every item of a table (copies). */
  scan(table: string): Item[] {
    return [...this.table(table).items.values()].map(clone);
  }

  totalWriteUnits(): number {
    let n = 0;
    for (const s of this.stats.values()) n += s.writeUnits;
    return n;
  }

  private bill(name: OperationName, writeBytes: number[], readBytes: number[], conditionalFailed = false): void {
    const s = this.stats.get(name) ?? { count: 0, writeUnits: 0, readUnits: 0, conditionalFailures: 0 };
    s.count++;
    for (const b of writeBytes) s.writeUnits += Math.max(1, Math.ceil(b / 1024));
    for (const b of readBytes) s.readUnits += Math.max(1, Math.ceil(b / 4096));
    if (conditionalFailed) s.conditionalFailures++;
    this.stats.set(name, s);
  }

  private table(name: unknown): Table {
    const t = typeof name === 'string' ? this.tables.get(name) : undefined;
    if (t === undefined) throw new DynamoDbError('ResourceNotFoundException', 'Requested resource not found');
    return t;
  }

  keyOf(t: Table, key: Item | undefined, fromItem = false): string {
    if (key === undefined || typeof key !== 'object') throw validation('The provided key element does not match the schema');
    const names = [t.hashKey, ...(t.rangeKey ? [t.rangeKey] : [])];
    if (!fromItem && Object.keys(key).length !== names.length)
      throw validation('The provided key element does not match the schema');
    const parts: string[] = [];
    for (const n of names) {
      const v = key[n];
      if (v === undefined)
        throw validation(
          fromItem
            ? `One or more parameter values were invalid: Missing the key ${n} in the item`
            : 'The provided key element does not match the schema',
        );
      const type = typeOf(v);
      if (type !== 'S' && type !== 'N' && type !== 'B') throw validation('The provided key element does not match the schema');
      if (type === 'S' && (v as { S: string }).S === '')
        throw validation(
          'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value.',
        );
      parts.push(`${type}:${canonicalScalar(v)}`);
    }
    return parts.join('\u0000');
  }

  private keyAttributes(t: Table, key: Item): Item {
    const out: Item = { [t.hashKey]: clone(key[t.hashKey]) };
    if (t.rangeKey !== undefined) out[t.rangeKey] = clone(key[t.rangeKey]);
    return out;
  }

  private execute(name: OperationName, input: any, unprocessedFraction: number): any {
    switch (name) {
      case 'CreateTable': {
        const hash = input.KeySchema?.find((k: any) => k.KeyType === 'HASH')?.AttributeName;
        const range = input.KeySchema?.find((k: any) => k.KeyType === 'RANGE')?.AttributeName;
        this.createTable(input.TableName, hash, range);
        return { TableDescription: { TableName: input.TableName, TableStatus: 'ACTIVE' } };
      }
      case 'DeleteTable':
        this.table(input.TableName);
        this.tables.delete(input.TableName);
        return { TableDescription: { TableName: input.TableName } };
      case 'GetItem': {
        const t = this.table(input.TableName);
        const exprs = new Expressions(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
        const projection = input.ProjectionExpression === undefined ? undefined : exprs.projection(input.ProjectionExpression);
        exprs.checkAllUsed();
        const item = t.items.get(this.keyOf(t, input.Key));
        this.bill(name, [], [item === undefined ? 0 : itemSize(item)]);
        if (item === undefined) return {};
        return { Item: projection === undefined ? clone(item) : project(item, projection) };
      }
      case 'PutItem': {
        const t = this.table(input.TableName);
        checkItem(input.Item);
        const k = this.keyOf(t, input.Item, true);
        const old = t.items.get(k);
        const exprs = new Expressions(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
        const condition = input.ConditionExpression === undefined ? undefined : exprs.condition(input.ConditionExpression);
        exprs.checkAllUsed();
        checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
        const size = itemSize(input.Item);
        if (size > MAX_ITEM_BYTES) throw validation('Item size has exceeded the maximum allowed size');
        if (condition !== undefined && !evalCondition(condition, old ?? {})) {
          this.bill(name, [Math.max(size, old === undefined ? 0 : itemSize(old))], [], true);
          throw conditionFailed(input, old);
        }
        t.items.set(k, clone(input.Item));
        this.bill(name, [Math.max(size, old === undefined ? 0 : itemSize(old))], []);
        return input.ReturnValues === 'ALL_OLD' && old !== undefined ? { Attributes: clone(old) } : {};
      }
      case 'DeleteItem': {
        const t = this.table(input.TableName);
        const k = this.keyOf(t, input.Key);
        const old = t.items.get(k);
        const exprs = new Expressions(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
        const condition = input.ConditionExpression === undefined ? undefined : exprs.condition(input.ConditionExpression);
        exprs.checkAllUsed();
        checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
        const bytes = old === undefined ? 0 : itemSize(old);
        if (condition !== undefined && !evalCondition(condition, old ?? {})) {
          this.bill(name, [bytes], [], true);
          throw conditionFailed(input, old);
        }
        t.items.delete(k);
        this.bill(name, [bytes], []);
        return input.ReturnValues === 'ALL_OLD' && old !== undefined ? { Attributes: clone(old) } : {};
      }
      case 'UpdateItem': {
        const t = this.table(input.TableName);
        const k = this.keyOf(t, input.Key);
        const old = t.items.get(k);
        const exprs = new Expressions(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
        const condition = input.ConditionExpression === undefined ? undefined : exprs.condition(input.ConditionExpression);
        const update = input.UpdateExpression === undefined ? [] : exprs.update(input.UpdateExpression);
        exprs.checkAllUsed();
        checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD', 'ALL_NEW', 'UPDATED_OLD', 'UPDATED_NEW']);
        for (const a of update) {
          if (a.path[0] === t.hashKey || (t.rangeKey !== undefined && a.path[0] === t.rangeKey)) {
            throw validation(
              `One or more parameter values were invalid: Cannot update attribute ${a.path[0]}. This attribute is part of the key`,
            );
          }
        }
        if (condition !== undefined && !evalCondition(condition, old ?? {})) {
          this.bill(name, [old === undefined ? 0 : itemSize(old)], [], true);
          throw conditionFailed(input, old);
        }
        const next = applyUpdate(old === undefined ? this.keyAttributes(t, input.Key) : clone(old), update);
        const size = itemSize(next);
        if (size > MAX_ITEM_BYTES) throw validation('Item size to update has exceeded the maximum allowed size');
        t.items.set(k, next);
        this.bill(name, [Math.max(size, old === undefined ? 0 : itemSize(old))], []);
        switch (input.ReturnValues) {
          case 'ALL_NEW':
            return { Attributes: clone(next) };
          case 'ALL_OLD':
            return old === undefined ? {} : { Attributes: clone(old) };
          case 'UPDATED_NEW':
            return updatedValues(next, update);
          case 'UPDATED_OLD':
            return old === undefined ? {} : updatedValues(old, update);
          default:
            return {};
        }
      }
      case 'BatchGetItem': {
        const requests = Object.entries(input.RequestItems ?? {}) as [string, any][];
        const total = requests.reduce((n, [, r]) => n + (r.Keys?.length ?? 0), 0);
        if (total === 0) throw validation('The requestItems parameter is required for BatchGetItem');
        if (total > BATCH_GET_LIMIT) throw validation('Too many items requested for the BatchGetItem call');
        const Responses: Record<string, Item[]> = {};
        const UnprocessedKeys: Record<string, any> = {};
        const skip = unprocessedCount(total, unprocessedFraction);
        let index = 0;
        const reads: number[] = [];
        for (const [tableName, r] of requests) {
          const t = this.table(tableName);
          const exprs = new Expressions(r.ExpressionAttributeNames, undefined);
          const projection = r.ProjectionExpression === undefined ? undefined : exprs.projection(r.ProjectionExpression);
          exprs.checkAllUsed();
          const seen = new Set<string>();
          for (const key of r.Keys) {
            const k = this.keyOf(t, key);
            if (seen.has(k)) throw validation('Provided list of item keys contains duplicates');
            seen.add(k);
          }
          Responses[tableName] = [];
          for (const key of r.Keys) {
            if (index++ >= total - skip) {
              (UnprocessedKeys[tableName] ??= { ...r, Keys: [] }).Keys.push(clone(key));
              continue;
            }
            const item = t.items.get(this.keyOf(t, key));
            reads.push(item === undefined ? 0 : itemSize(item));
            if (item !== undefined) Responses[tableName].push(projection === undefined ? clone(item) : project(item, projection));
          }
        }
        this.bill('BatchGetItem', [], reads);
        return { Responses, UnprocessedKeys };
      }
      case 'BatchWriteItem': {
        const requests = Object.entries(input.RequestItems ?? {}) as [string, any[]][];
        const total = requests.reduce((n, [, r]) => n + r.length, 0);
        if (total === 0) throw validation('The batch write request list is empty');
        if (total > BATCH_WRITE_LIMIT) throw validation('Too many items requested for the BatchWriteItem call');
        const plan: Array<() => number> = [];
        const UnprocessedItems: Record<string, any[]> = {};
        const skip = unprocessedCount(total, unprocessedFraction);
        let index = 0;
        for (const [tableName, list] of requests) {
          const t = this.table(tableName);
          const seen = new Set<string>();
          for (const w of list) {
            const put = w.PutRequest?.Item as Item | undefined;
            const del = w.DeleteRequest?.Key as Item | undefined;
            if ((put === undefined) === (del === undefined))
              throw validation('A write request must have exactly one of PutRequest or DeleteRequest');
            if (put !== undefined) checkItem(put);
            const k = put !== undefined ? this.keyOf(t, put, true) : this.keyOf(t, del);
            if (seen.has(k)) throw validation('Provided list of item keys contains duplicates');
            seen.add(k);
            if (put !== undefined && itemSize(put) > MAX_ITEM_BYTES)
              throw validation('Item size has exceeded the maximum allowed size');
            if (index++ >= total - skip) {
              (UnprocessedItems[tableName] ??= []).push(clone(w));
              continue;
            }
            plan.push(() => {
              const old = t.items.get(k);
              const oldBytes = old === undefined ? 0 : itemSize(old);
              if (put !== undefined) t.items.set(k, clone(put));
              else t.items.delete(k);
              return Math.max(oldBytes, put === undefined ? 0 : itemSize(put));
            });
          }
        }
        this.bill(
          'BatchWriteItem',
          plan.map((p) => p()),
          [],
        );
        return { UnprocessedItems };
      }
      default:
        throw new DynamoDbError('UnknownOperationException', `MemoryDynamoDb does not implement ${name as string}`);
    }
  }
}

/** A batch leaves some requests unprocessed but, as DynamoDB does, processes at least one. */
function unprocessedCount(total: number, fraction: number): number {
  if (fraction <= 0) return 0;
  return Math.min(total - 1, Math.max(1, Math.floor(total * fraction)));
}

function conditionFailed(input: any, old: Item | undefined): DynamoDbError {
  const withItem = input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old !== undefined;
  return new DynamoDbError(
    'ConditionalCheckFailedException',
    'The conditional request failed',
    withItem ? { Item: clone(old) } : {},
  );
}

function checkReturnValues(v: unknown, allowed: string[]): void {
  if (v !== undefined && !allowed.includes(v as string))
    throw validation(`ReturnValues ${String(v)} is not valid for this operation`);
}

// ---------------------------------------------------------------------------------------------------------------
// Attribute values

type Type = 'S' | 'N' | 'B' | 'BOOL' | 'NULL' | 'M' | 'L' | 'SS' | 'NS' | 'BS';
const TYPES: Type[] = ['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS'];

export function typeOf(v: AttributeValue): Type {
  for (const t of TYPES) if ((v as unknown as Record<string, unknown>)[t] !== undefined) return t;
  throw validation('Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
}

function checkValue(v: AttributeValue): void {
  const present = TYPES.filter((t) => (v as unknown as Record<string, unknown>)[t] !== undefined);
  if (present.length !== 1)
    throw validation(
      'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes',
    );
  const t = present[0];
  if (t === 'N') canonicalNumber((v as { N: string }).N);
  if (t === 'SS' || t === 'NS' || t === 'BS') {
    const xs = (v as unknown as Record<string, unknown[]>)[t];
    if (xs.length === 0) throw validation('One or more parameter values were invalid: An number set  may not be empty');
    const keys = xs.map((x) =>
      t === 'NS' ? canonicalNumber(x as string) : t === 'BS' ? Buffer.from(x as Uint8Array).toString('hex') : (x as string),
    );
    if (new Set(keys).size !== keys.length) throw validation('Input collection contains duplicates');
  }
  if (t === 'M') for (const x of Object.values((v as { M: Item }).M)) checkValue(x);
  if (t === 'L') for (const x of (v as { L: AttributeValue[] }).L) checkValue(x);
}

function checkItem(item: Item | undefined): void {
  if (item === undefined || typeof item !== 'object')
    throw validation('One or more parameter values were invalid: Item is required');
  for (const v of Object.values(item)) checkValue(v);
}

/** DynamoDB's number normalization: no leading zeros, no trailing fractional zeros, no "+". */
function canonicalNumber(n: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(n).trim());
  if (m === null || (m[2] === '' && (m[3] ?? '') === ''))
    throw validation(`The parameter cannot be converted to a numeric value: ${n}`);
  let digits = (m[2] + (m[3] ?? '')).replace(/^0+/, '');
  let exp = (m[4] === undefined ? 0 : Number(m[4])) - (m[3] ?? '').length;
  if (digits === '') return '0';
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exp++;
  }
  const sign = m[1] === '-' ? '-' : '';
  if (digits.length > 38) throw validation('Attempting to store more than 38 significant digits in a Number');
  if (exp >= 0) return sign + digits + '0'.repeat(exp);
  const point = digits.length + exp;
  return point > 0 ? `${sign}${digits.slice(0, point)}.${digits.slice(point)}` : `${sign}0.${'0'.repeat(-point)}${digits}`;
}

/** A number as a scaled bigint: value = int * 10^-scale. */
function scaled(n: string): { int: bigint; scale: number } {
  const c = canonicalNumber(n);
  const [whole, frac = ''] = c.split('.');
  return { int: BigInt(whole + frac), scale: frac.length };
}

function compareNumbers(a: string, b: string): number {
  const x = scaled(a);
  const y = scaled(b);
  const scale = Math.max(x.scale, y.scale);
  const xi = x.int * 10n ** BigInt(scale - x.scale);
  const yi = y.int * 10n ** BigInt(scale - y.scale);
  return xi < yi ? -1 : xi > yi ? 1 : 0;
}

function addNumbers(a: string, b: string, sign: 1 | -1): string {
  const x = scaled(a);
  const y = scaled(b);
  const scale = Math.max(x.scale, y.scale);
  const sum = x.int * 10n ** BigInt(scale - x.scale) + BigInt(sign) * y.int * 10n ** BigInt(scale - y.scale);
  const neg = sum < 0n;
  const s = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
  return canonicalNumber((neg ? '-' : '') + text);
}

function bytesOf(v: Uint8Array | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

function canonicalScalar(v: AttributeValue): string {
  const t = typeOf(v);
  if (t === 'N') return canonicalNumber((v as { N: string }).N);
  if (t === 'B') return bytesOf((v as { B: Uint8Array }).B).toString('hex');
  return (v as { S: string }).S;
}

function compareScalars(a: AttributeValue, b: AttributeValue): number | undefined {
  const ta = typeOf(a);
  if (ta !== typeOf(b)) return undefined;
  if (ta === 'N') return compareNumbers((a as { N: string }).N, (b as { N: string }).N);
  if (ta === 'S') return Buffer.compare(Buffer.from((a as { S: string }).S), Buffer.from((b as { S: string }).S));
  if (ta === 'B') return Buffer.compare(bytesOf((a as { B: Uint8Array }).B), bytesOf((b as { B: Uint8Array }).B));
  return undefined;
}

function equalValues(a: AttributeValue, b: AttributeValue): boolean {
  const t = typeOf(a);
  if (t !== typeOf(b)) return false;
  switch (t) {
    case 'S':
    case 'N':
    case 'B':
      return compareScalars(a, b) === 0;
    case 'BOOL':
      return (a as { BOOL: boolean }).BOOL === (b as { BOOL: boolean }).BOOL;
    case 'NULL':
      return true;
    case 'L': {
      const x = (a as { L: AttributeValue[] }).L;
      const y = (b as { L: AttributeValue[] }).L;
      return x.length === y.length && x.every((v, i) => equalValues(v, y[i]));
    }
    case 'M': {
      const x = (a as { M: Item }).M;
      const y = (b as { M: Item }).M;
      const kx = Object.keys(x);
      return kx.length === Object.keys(y).length && kx.every((k) => y[k] !== undefined && equalValues(x[k], y[k]));
    }
    default: {
      const x = setKeys(a);
      const y = setKeys(b);
      return x.size === y.size && [...x].every((k) => y.has(k));
    }
  }
}

function setKeys(v: AttributeValue): Set<string> {
  const t = typeOf(v);
  const xs = (v as unknown as Record<string, unknown[]>)[t];
  return new Set(
    xs.map((x) =>
      t === 'NS' ? canonicalNumber(x as string) : t === 'BS' ? bytesOf(x as Uint8Array).toString('hex') : (x as string),
    ),
  );
}

function clone<T>(v: T): T {
  if (v instanceof Uint8Array) return Buffer.from(v) as unknown as T;
  if (Array.isArray(v)) return v.map(clone) as unknown as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = clone(x);
    return out as T;
  }
  return v;
}

/** An item's size as DynamoDB counts it (names plus values; documents with their overhead). */
export function itemSize(item: Item): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) n += Buffer.byteLength(name) + valueSize(v);
  return n;
}

function valueSize(v: AttributeValue): number {
  const t = typeOf(v);
  switch (t) {
    case 'S':
      return Buffer.byteLength((v as { S: string }).S);
    case 'N':
      return numberSize((v as { N: string }).N);
    case 'B':
      return bytesOf((v as { B: Uint8Array }).B).length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (v as { SS: string[] }).SS.reduce((s, x) => s + Buffer.byteLength(x), 0);
    case 'NS':
      return (v as { NS: string[] }).NS.reduce((s, x) => s + numberSize(x), 0);
    case 'BS':
      return (v as { BS: Uint8Array[] }).BS.reduce((s, x) => s + bytesOf(x).length, 0);
    case 'L':
      return 3 + (v as { L: AttributeValue[] }).L.reduce((s, x) => s + 1 + valueSize(x), 0);
    case 'M':
      return 3 + Object.entries((v as { M: Item }).M).reduce((s, [k, x]) => s + 1 + Buffer.byteLength(k) + valueSize(x), 0);
  }
}

function numberSize(n: string): number {
  const digits = canonicalNumber(n).replace(/[-.]/g, '').replace(/^0+/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Expressions: tokens, parser, evaluator

/** A document path: attribute names and list indexes. */
type Path = Array<string | number>;

type Operand =
  | { readonly k: 'path'; readonly path: Path }
  | { readonly k: 'value'; readonly value: AttributeValue }
  | { readonly k: 'size'; readonly path: Path };

type Condition =
  | { readonly k: 'and' | 'or'; readonly a: Condition; readonly b: Condition }
  | { readonly k: 'not'; readonly a: Condition }
  | { readonly k: 'cmp'; readonly op: string; readonly a: Operand; readonly b: Operand }
  | { readonly k: 'between'; readonly a: Operand; readonly lo: Operand; readonly hi: Operand }
  | { readonly k: 'in'; readonly a: Operand; readonly list: Operand[] }
  | { readonly k: 'fn'; readonly name: string; readonly args: Operand[] };

type UpdateValue =
  | { readonly k: 'operand'; readonly operand: Operand }
  | { readonly k: 'if_not_exists'; readonly path: Path; readonly value: UpdateValue }
  | { readonly k: 'list_append'; readonly a: UpdateValue; readonly b: UpdateValue }
  | { readonly k: 'arith'; readonly op: '+' | '-'; readonly a: UpdateValue; readonly b: UpdateValue };

type UpdateAction =
  | { readonly k: 'SET'; readonly path: Path; readonly value: UpdateValue }
  | { readonly k: 'REMOVE'; readonly path: Path }
  | { readonly k: 'ADD' | 'DELETE'; readonly path: Path; readonly value: AttributeValue };

interface Token {
  readonly t: 'name' | 'value' | 'id' | 'num' | 'punct';
  readonly s: string;
}

const RESERVED_KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN', 'SET', 'REMOVE', 'ADD', 'DELETE']);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<>' || two === '<=' || two === '>=') {
      out.push({ t: 'punct', s: two });
      i += 2;
      continue;
    }
    if ('()[],.=<>+-'.includes(c)) {
      out.push({ t: 'punct', s: c });
      i++;
      continue;
    }
    const m = /^[#:]?[A-Za-z0-9_]+/.exec(text.slice(i));
    if (m === null)
      throw validation(`Invalid expression: Syntax error; token: "${c}", near: "${text.slice(Math.max(0, i - 5), i + 5)}"`);
    const s = m[0];
    out.push({ t: s[0] === '#' ? 'name' : s[0] === ':' ? 'value' : /^\d+$/.test(s) ? 'num' : 'id', s });
    i += s.length;
  }
  return out;
}

class Expressions {
  private readonly usedNames = new Set<string>();
  private readonly usedValues = new Set<string>();
  constructor(
    private readonly names: Record<string, string> | undefined,
    private readonly values: Item | undefined,
  ) {
    if (names !== undefined && Object.keys(names).length === 0) throw validation('ExpressionAttributeNames must not be empty');
    if (values !== undefined && Object.keys(values).length === 0) throw validation('ExpressionAttributeValues must not be empty');
    for (const v of Object.values(values ?? {})) checkValue(v);
  }

  checkAllUsed(): void {
    const unusedNames = Object.keys(this.names ?? {}).filter((n) => !this.usedNames.has(n));
    if (unusedNames.length > 0)
      throw validation(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`);
    const unusedValues = Object.keys(this.values ?? {}).filter((n) => !this.usedValues.has(n));
    if (unusedValues.length > 0)
      throw validation(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`);
  }

  condition(text: string): Condition {
    const p = new Parser(tokenize(text), this);
    const c = p.orExpr();
    p.end();
    return c;
  }

  update(text: string): UpdateAction[] {
    const p = new Parser(tokenize(text), this);
    const actions = p.updateExpr();
    p.end();
    const seen: Path[] = [];
    for (const a of actions) {
      for (const s of seen) {
        const n = Math.min(s.length, a.path.length);
        if (s.slice(0, n).every((x, i) => x === a.path[i]))
          throw validation(
            `Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${s.join(', ')}], path two: [${a.path.join(', ')}]`,
          );
      }
      seen.push(a.path);
    }
    return actions;
  }

  projection(text: string): Path[] {
    const p = new Parser(tokenize(text), this);
    const paths = [p.path()];
    while (p.accept(',')) paths.push(p.path());
    p.end();
    return paths;
  }

  name(token: string): string {
    if (token.startsWith('#')) {
      const n = this.names?.[token];
      if (n === undefined)
        throw validation(
          `Value provided in ExpressionAttributeNames unused in expressions: An expression attribute name used in the document path is not defined; attribute name: ${token}`,
        );
      this.usedNames.add(token);
      return n;
    }
    if (RESERVED_KEYWORDS.has(token.toUpperCase()) || RESERVED.has(token.toUpperCase())) {
      throw validation(`Invalid expression: Attribute name is a reserved keyword; reserved keyword: ${token}`);
    }
    return token;
  }

  value(token: string): AttributeValue {
    const v = this.values?.[token];
    if (v === undefined)
      throw validation(
        `Invalid expression: An expression attribute value used in expression is not defined; attribute value: ${token}`,
      );
    this.usedValues.add(token);
    return v;
  }
}

/** A sample of DynamoDB's reserved words (names that must go through #placeholders); the full list has ~570. */
const RESERVED = new Set([
  'STATE',
  'STATUS',
  'NAME',
  'VALUE',
  'VALUES',
  'KEY',
  'KEYS',
  'TTL',
  'DATA',
  'TIMESTAMP',
  'OWNER',
  'PARTITION',
  'TOPIC',
  'OFFSET',
  'RESULT',
  'SIZE',
  'COUNT',
  'TIME',
  'DATE',
  'USER',
  'TYPE',
  'ORDER',
  'RANGE',
  'HASH',
  'UNTIL',
  'LEASE',
  'EXPIRATION',
  'CONTAINER',
]);

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly x: Expressions,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private peekWord(): string | undefined {
    const t = this.peek();
    return t?.t === 'id' ? t.s.toUpperCase() : undefined;
  }

  accept(s: string): boolean {
    const t = this.peek();
    if (t !== undefined && (t.t === 'punct' ? t.s === s : t.t === 'id' && t.s.toUpperCase() === s)) {
      this.i++;
      return true;
    }
    return false;
  }

  private expect(s: string): void {
    if (!this.accept(s))
      throw validation(`Invalid expression: Syntax error; token: "${this.peek()?.s ?? '<EOF>'}", expected "${s}"`);
  }

  end(): void {
    if (this.i !== this.tokens.length) throw validation(`Invalid expression: Syntax error; token: "${this.peek()!.s}"`);
  }

  orExpr(): Condition {
    let a = this.andExpr();
    while (this.accept('OR')) a = { k: 'or', a, b: this.andExpr() };
    return a;
  }

  private andExpr(): Condition {
    let a = this.notExpr();
    while (this.accept('AND')) a = { k: 'and', a, b: this.notExpr() };
    return a;
  }

  private notExpr(): Condition {
    if (this.accept('NOT')) return { k: 'not', a: this.notExpr() };
    return this.primary();
  }

  private primary(): Condition {
    if (this.accept('(')) {
      const c = this.orExpr();
      this.expect(')');
      return c;
    }
    const word = this.peekWord();
    const next = this.tokens[this.i + 1];
    if (
      word !== undefined &&
      next?.s === '(' &&
      ['ATTRIBUTE_EXISTS', 'ATTRIBUTE_NOT_EXISTS', 'ATTRIBUTE_TYPE', 'BEGINS_WITH', 'CONTAINS'].includes(word)
    ) {
      this.i += 2;
      const args: Operand[] = [this.operand()];
      while (this.accept(',')) args.push(this.operand());
      this.expect(')');
      const arity: Record<string, number> = {
        ATTRIBUTE_EXISTS: 1,
        ATTRIBUTE_NOT_EXISTS: 1,
        ATTRIBUTE_TYPE: 2,
        BEGINS_WITH: 2,
        CONTAINS: 2,
      };
      if (args.length !== arity[word])
        throw validation(
          `Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: ${word.toLowerCase()}, number of operands: ${args.length}`,
        );
      if ((word === 'ATTRIBUTE_EXISTS' || word === 'ATTRIBUTE_NOT_EXISTS' || word === 'ATTRIBUTE_TYPE') && args[0].k !== 'path') {
        throw validation(
          `Invalid ConditionExpression: Operator or function requires a document path; operator or function: ${word.toLowerCase()}`,
        );
      }
      return { k: 'fn', name: word, args };
    }
    const a = this.operand();
    if (this.accept('BETWEEN')) {
      const lo = this.operand();
      this.expect('AND');
      const hi = this.operand();
      if (lo.k === 'value' && hi.k === 'value') {
        const order = compareScalars(lo.value, hi.value);
        if (order === undefined || order > 0)
          throw validation(
            'Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound',
          );
      }
      return { k: 'between', a, lo, hi };
    }
    if (this.accept('IN')) {
      this.expect('(');
      const list = [this.operand()];
      while (this.accept(',')) list.push(this.operand());
      this.expect(')');
      return { k: 'in', a, list };
    }
    const op = this.peek();
    if (op?.t === 'punct' && ['=', '<>', '<', '<=', '>', '>='].includes(op.s)) {
      this.i++;
      const b = this.operand();
      if (op.s !== '=' && op.s !== '<>') {
        for (const x of [a, b]) {
          if (x.k === 'value' && !['S', 'N', 'B'].includes(typeOf(x.value))) {
            throw validation(
              `Invalid ConditionExpression: Incorrect operand type for operator or function; operator: ${op.s}, operand type: ${typeOf(x.value)}`,
            );
          }
        }
      }
      return { k: 'cmp', op: op.s, a, b };
    }
    throw validation(`Invalid ConditionExpression: Syntax error; token: "${op?.s ?? '<EOF>'}"`);
  }

  private operand(): Operand {
    const t = this.peek();
    if (t?.t === 'value') {
      this.i++;
      return { k: 'value', value: this.x.value(t.s) };
    }
    if (t?.t === 'id' && t.s.toUpperCase() === 'SIZE' && this.tokens[this.i + 1]?.s === '(') {
      this.i += 2;
      const path = this.path();
      this.expect(')');
      return { k: 'size', path };
    }
    return { k: 'path', path: this.path() };
  }

  path(): Path {
    const out: Path = [];
    const first = this.peek();
    if (first === undefined || (first.t !== 'name' && first.t !== 'id'))
      throw validation(`Invalid expression: Syntax error; token: "${first?.s ?? '<EOF>'}", expected a document path`);
    this.i++;
    out.push(this.x.name(first.s));
    for (;;) {
      if (this.accept('.')) {
        const t = this.peek();
        if (t === undefined || (t.t !== 'name' && t.t !== 'id'))
          throw validation('Invalid expression: Syntax error; expected an attribute name after "."');
        this.i++;
        out.push(this.x.name(t.s));
      } else if (this.accept('[')) {
        const t = this.peek();
        if (t?.t !== 'num') throw validation('Invalid expression: Syntax error; expected a list index');
        this.i++;
        out.push(Number(t.s));
        this.expect(']');
      } else {
        return out;
      }
    }
  }

  updateExpr(): UpdateAction[] {
    const actions: UpdateAction[] = [];
    const clauses = new Set<string>();
    while (this.peek() !== undefined) {
      const word = this.peekWord();
      if (word === undefined || !['SET', 'REMOVE', 'ADD', 'DELETE'].includes(word))
        throw validation(`Invalid UpdateExpression: Syntax error; token: "${this.peek()!.s}"`);
      if (clauses.has(word))
        throw validation(`Invalid UpdateExpression: The "${word}" section can only be used once in an update expression`);
      clauses.add(word);
      this.i++;
      do {
        const path = this.path();
        if (word === 'SET') {
          this.expect('=');
          actions.push({ k: 'SET', path, value: this.setValue() });
        } else if (word === 'REMOVE') {
          actions.push({ k: 'REMOVE', path });
        } else {
          const t = this.peek();
          if (t?.t !== 'value') throw validation(`Invalid UpdateExpression: Syntax error; ${word} needs a value`);
          this.i++;
          actions.push({ k: word as 'ADD' | 'DELETE', path, value: this.x.value(t.s) });
        }
      } while (this.accept(','));
    }
    if (actions.length === 0) throw validation('Invalid UpdateExpression: The expression can not be empty');
    return actions;
  }

  private setValue(): UpdateValue {
    const a = this.setOperand();
    const t = this.peek();
    if (t?.t === 'punct' && (t.s === '+' || t.s === '-')) {
      this.i++;
      return { k: 'arith', op: t.s, a, b: this.setOperand() };
    }
    return a;
  }

  private setOperand(): UpdateValue {
    const word = this.peekWord();
    if (word !== undefined && this.tokens[this.i + 1]?.s === '(') {
      if (word === 'IF_NOT_EXISTS') {
        this.i += 2;
        const path = this.path();
        this.expect(',');
        const value = this.setValue();
        this.expect(')');
        return { k: 'if_not_exists', path, value };
      }
      if (word === 'LIST_APPEND') {
        this.i += 2;
        const a = this.setValue();
        this.expect(',');
        const b = this.setValue();
        this.expect(')');
        return { k: 'list_append', a, b };
      }
      throw validation(`Invalid UpdateExpression: Invalid function name; function: ${word.toLowerCase()}`);
    }
    const t = this.peek();
    if (t?.t === 'value') {
      this.i++;
      return { k: 'operand', operand: { k: 'value', value: this.x.value(t.s) } };
    }
    return { k: 'operand', operand: { k: 'path', path: this.path() } };
  }
}

function getPath(item: Item, path: Path): AttributeValue | undefined {
  let v: AttributeValue | undefined = typeof path[0] === 'string' ? item[path[0]] : undefined;
  for (let i = 1; i < path.length && v !== undefined; i++) {
    const p = path[i];
    if (typeof p === 'number') v = (v as { L?: AttributeValue[] }).L?.[p];
    else v = (v as { M?: Item }).M?.[p];
  }
  return v;
}

function operandValue(item: Item, o: Operand): AttributeValue | undefined {
  if (o.k === 'value') return o.value;
  if (o.k === 'path') return getPath(item, o.path);
  const v = getPath(item, o.path);
  if (v === undefined) return undefined;
  const t = typeOf(v);
  let n: number;
  switch (t) {
    case 'S':
      n = Buffer.byteLength((v as { S: string }).S);
      break;
    case 'B':
      n = bytesOf((v as { B: Uint8Array }).B).length;
      break;
    case 'L':
      n = (v as { L: unknown[] }).L.length;
      break;
    case 'M':
      n = Object.keys((v as { M: Item }).M).length;
      break;
    case 'SS':
    case 'NS':
    case 'BS':
      n = (v as unknown as Record<string, unknown[]>)[t].length;
      break;
    default:
      throw validation(
        `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: ${t}`,
      );
  }
  return { N: String(n) };
}

function evalCondition(c: Condition, item: Item): boolean {
  switch (c.k) {
    case 'and':
      return evalCondition(c.a, item) && evalCondition(c.b, item);
    case 'or':
      return evalCondition(c.a, item) || evalCondition(c.b, item);
    case 'not':
      return !evalCondition(c.a, item);
    case 'cmp': {
      const a = operandValue(item, c.a);
      const b = operandValue(item, c.b);
      if (a === undefined || b === undefined) return c.op === '<>' ? !(a === undefined && b === undefined) : false;
      if (c.op === '=') return equalValues(a, b);
      if (c.op === '<>') return !equalValues(a, b);
      const r = compareScalars(a, b);
      if (r === undefined) return false;
      return c.op === '<' ? r < 0 : c.op === '<=' ? r <= 0 : c.op === '>' ? r > 0 : r >= 0;
    }
    case 'between': {
      const a = operandValue(item, c.a);
      const lo = operandValue(item, c.lo);
      const hi = operandValue(item, c.hi);
      if (a === undefined || lo === undefined || hi === undefined) return false;
      const x = compareScalars(a, lo);
      const y = compareScalars(a, hi);
      return x !== undefined && y !== undefined && x >= 0 && y <= 0;
    }
    case 'in': {
      const a = operandValue(item, c.a);
      if (a === undefined) return false;
      return c.list.some((o) => {
        const v = operandValue(item, o);
        return v !== undefined && equalValues(a, v);
      });
    }
    case 'fn': {
      const [first, second] = c.args;
      const v = operandValue(item, first);
      switch (c.name) {
        case 'ATTRIBUTE_EXISTS':
          return v !== undefined;
        case 'ATTRIBUTE_NOT_EXISTS':
          return v === undefined;
        case 'ATTRIBUTE_TYPE': {
          const t = operandValue(item, second);
          if (t === undefined || typeOf(t) !== 'S' || !TYPES.includes((t as { S: string }).S as Type)) {
            throw validation(`Invalid ConditionExpression: Invalid attribute type name found; type: ${JSON.stringify(t)}`);
          }
          return v !== undefined && typeOf(v) === (t as { S: string }).S;
        }
        case 'BEGINS_WITH': {
          const p = operandValue(item, second);
          if (v === undefined || p === undefined) return false;
          if (typeOf(v) === 'S' && typeOf(p) === 'S') return (v as { S: string }).S.startsWith((p as { S: string }).S);
          if (typeOf(v) === 'B' && typeOf(p) === 'B') {
            const x = bytesOf((v as { B: Uint8Array }).B);
            const y = bytesOf((p as { B: Uint8Array }).B);
            return x.subarray(0, y.length).equals(y);
          }
          return false;
        }
        case 'CONTAINS': {
          const p = operandValue(item, second);
          if (v === undefined || p === undefined) return false;
          const t = typeOf(v);
          if (t === 'S') return typeOf(p) === 'S' && (v as { S: string }).S.includes((p as { S: string }).S);
          if (t === 'B')
            return typeOf(p) === 'B' && bytesOf((v as { B: Uint8Array }).B).includes(bytesOf((p as { B: Uint8Array }).B));
          if (t === 'L') return (v as { L: AttributeValue[] }).L.some((x) => equalValues(x, p));
          if (t === 'SS' || t === 'NS' || t === 'BS') {
            const elementType = t.slice(0, 1);
            if (typeOf(p) !== elementType) return false;
            return setKeys(v).has(canonicalScalar(p));
          }
          return false;
        }
      }
      return false;
    }
  }
}

function evalUpdateValue(item: Item, v: UpdateValue): AttributeValue {
  switch (v.k) {
    case 'operand': {
      const x = operandValue(item, v.operand);
      if (x === undefined) throw validation('The provided expression refers to an attribute that does not exist in the item');
      return clone(x);
    }
    case 'if_not_exists': {
      const x = getPath(item, v.path);
      return x !== undefined ? clone(x) : evalUpdateValue(item, v.value);
    }
    case 'list_append': {
      const a = evalUpdateValue(item, v.a);
      const b = evalUpdateValue(item, v.b);
      if (typeOf(a) !== 'L' || typeOf(b) !== 'L')
        throw validation(
          'Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append',
        );
      return { L: [...(a as { L: AttributeValue[] }).L, ...(b as { L: AttributeValue[] }).L] };
    }
    case 'arith': {
      const a = evalUpdateValue(item, v.a);
      const b = evalUpdateValue(item, v.b);
      if (typeOf(a) !== 'N' || typeOf(b) !== 'N')
        throw validation(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ${v.op}`);
      return { N: addNumbers((a as { N: string }).N, (b as { N: string }).N, v.op === '+' ? 1 : -1) };
    }
  }
}

/** The container of the path's last element, for writing it; undefined when a parent is missing. */
function parentOf(item: Item, path: Path): { container: Item | AttributeValue[]; last: string | number } | undefined {
  let container: Item | AttributeValue[] = item;
  for (let i = 0; i < path.length - 1; i++) {
    const p = path[i];
    const v: AttributeValue | undefined = Array.isArray(container) ? container[p as number] : (container as Item)[p as string];
    if (v === undefined) return undefined;
    const next = path[i + 1];
    if (typeof next === 'number') {
      if ((v as { L?: AttributeValue[] }).L === undefined) return undefined;
      container = (v as { L: AttributeValue[] }).L;
    } else {
      if ((v as { M?: Item }).M === undefined) return undefined;
      container = (v as { M: Item }).M;
    }
  }
  return { container, last: path[path.length - 1] };
}

function applyUpdate(item: Item, actions: readonly UpdateAction[]): Item {
  // Every value is computed from the item as it was before the update, as DynamoDB does.
  const before = clone(item);
  const invalidPath = () => validation('The document path provided in the update expression is invalid for update');
  const removals: Array<{ container: Item | AttributeValue[]; last: string | number }> = [];
  for (const a of actions) {
    const where = parentOf(item, a.path);
    if (where === undefined) throw invalidPath();
    const { container, last } = where;
    if (Array.isArray(container) !== (typeof last === 'number')) throw invalidPath();
    const current: AttributeValue | undefined = Array.isArray(container)
      ? container[last as number]
      : (container as Item)[last as string];
    const put = (v: AttributeValue) => {
      if (Array.isArray(container)) {
        const index = last as number;
        if (index >= container.length) container.push(v);
        else container[index] = v;
      } else {
        (container as Item)[last as string] = v;
      }
    };
    switch (a.k) {
      case 'SET':
        put(evalUpdateValue(before, a.value));
        break;
      case 'REMOVE':
        if (current !== undefined) removals.push({ container, last });
        break;
      case 'ADD': {
        const t = typeOf(a.value);
        if (t === 'N') {
          if (current !== undefined && typeOf(current) !== 'N')
            throw validation('An operand in the update expression has an incorrect data type');
          put({ N: addNumbers(current === undefined ? '0' : (current as { N: string }).N, (a.value as { N: string }).N, 1) });
        } else if (t === 'SS' || t === 'NS' || t === 'BS') {
          if (current !== undefined && typeOf(current) !== t)
            throw validation('An operand in the update expression has an incorrect data type');
          const existing = current === undefined ? [] : (current as unknown as Record<string, unknown[]>)[t];
          const keys = current === undefined ? new Set<string>() : setKeys(current);
          const merged = [...existing];
          for (const x of (a.value as unknown as Record<string, unknown[]>)[t]) {
            const k = canonicalScalar({ [t.slice(0, 1)]: x } as unknown as AttributeValue);
            if (!keys.has(k)) {
              keys.add(k);
              merged.push(x);
            }
          }
          put({ [t]: merged } as unknown as AttributeValue);
        } else {
          throw validation(
            `Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ${t}`,
          );
        }
        break;
      }
      case 'DELETE': {
        const t = typeOf(a.value);
        if (t !== 'SS' && t !== 'NS' && t !== 'BS')
          throw validation(
            `Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: ${t}`,
          );
        if (current === undefined) break;
        if (typeOf(current) !== t) throw validation('An operand in the update expression has an incorrect data type');
        const gone = setKeys(a.value);
        const kept = (current as unknown as Record<string, unknown[]>)[t].filter(
          (x) => !gone.has(canonicalScalar({ [t.slice(0, 1)]: x } as unknown as AttributeValue)),
        );
        if (kept.length === 0) removals.push({ container, last });
        else put({ [t]: kept } as unknown as AttributeValue);
        break;
      }
    }
  }
  // List elements are removed from the highest index down, so earlier indexes stay valid.
  removals.sort((a, b) => (typeof b.last === 'number' ? b.last : 0) - (typeof a.last === 'number' ? a.last : 0));
  for (const { container, last } of removals) {
    if (Array.isArray(container)) container.splice(last as number, 1);
    else delete (container as Item)[last as string];
  }
  return item;
}

/** UPDATED_NEW / UPDATED_OLD: the updated paths' values, nested as in the item. */
function updatedValues(item: Item, actions: readonly UpdateAction[]): { Attributes?: Item } {
  // Removing a list element updates the list: DynamoDB answers with the whole list.
  const updated = (a: UpdateAction): Path => {
    if (a.k !== 'REMOVE') return a.path;
    let end = a.path.length;
    while (end > 1 && typeof a.path[end - 1] === 'number') end--;
    return a.path.slice(0, end);
  };
  const paths = actions.map(updated).filter((p) => getPath(item, p) !== undefined);
  if (paths.length === 0) return {};
  return { Attributes: project(item, paths) };
}

/** The item restricted to these paths (ProjectionExpression); list elements keep their order, compacted. */
function project(item: Item, paths: readonly Path[]): Item {
  const out: Item = {};
  for (const path of paths) {
    const v = getPath(item, path);
    if (v === undefined) continue;
    let target: Item = out;
    let source: Item = item;
    for (let i = 0; i < path.length - 1; i++) {
      const p = path[i];
      const next = path[i + 1];
      if (typeof p === 'number' || typeof next === 'number') {
        // Into a list: copy the element path as a list holding just the projected elements.
        target[p as string] ??= { L: [] };
        (target[p as string] as { L: AttributeValue[] }).L.push(clone(getPath(item, path)!));
        break;
      }
      const m = (source[p] as { M: Item }).M;
      target[p] ??= { M: {} };
      target = (target[p] as { M: Item }).M;
      source = m;
      if (i === path.length - 2) target[path[path.length - 1] as string] = clone(v);
    }
    if (path.length === 1) out[path[0] as string] = clone(v);
  }
  return out;
}
