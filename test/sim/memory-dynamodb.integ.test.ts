/**
 * MemoryDynamoDb against DynamoDB Local: the same operation sequences, every answer compared (items, returned
 * attributes, errors by name). The sequences are those the runtime's stores send (captured by running simulation
 * schedules, with every store and mode, against MemoryDynamoDb), and generated ones over a grammar of condition and
 * update expressions.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as dynamodb from '@aws-sdk/client-dynamodb';
import * as fc from 'fast-check';
import * as te from '../../testenv';
import { simulate, Schedule } from './esm-model';
import { MemoryDynamoDb, OperationInfo } from './memory-dynamodb';

jest.setTimeout(300_000);

const real = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 2 }));
let tableCounter = 0;

async function newTables(): Promise<{ name: string; fake: MemoryDynamoDb }> {
  const name = `conformance-${process.pid}-${Date.now()}-${++tableCounter}`;
  await real.send(
    new dynamodb.CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const fake = new MemoryDynamoDb();
  fake.createTable(name, 'id');
  return { name, fake };
}

/** An answer with what may differ in form only made equal: sets sorted, bytes as base64, metadata dropped. */
function normalize(x: unknown): unknown {
  if (x instanceof Uint8Array) return Buffer.from(x).toString('base64');
  if (Array.isArray(x)) return x.map(normalize);
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) {
      if (k === '$metadata' || k === 'ConsumedCapacity' || v === undefined) continue;
      if ((k === 'SS' || k === 'NS' || k === 'BS') && Array.isArray(v)) out[k] = (normalize(v) as string[]).sort();
      else if (k === 'Responses')
        out[k] = Object.fromEntries(
          Object.entries(v as Record<string, unknown[]>).map(([t, items]) => [
            t,
            (normalize(items) as unknown[]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
          ]),
        );
      else out[k] = normalize(v);
    }
    for (const k of ['UnprocessedKeys', 'UnprocessedItems'])
      if (out[k] !== undefined && Object.keys(out[k] as object).length === 0) delete out[k];
    return out;
  }
  return x;
}

async function answer(send: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: normalize(await send()) };
  } catch (e) {
    const err = e as { name: string; Item?: unknown };
    return { error: err.name, ...(err.Item !== undefined ? { item: normalize(err.Item) } : {}) };
  }
}

/** Runs one sequence against both and compares each answer. */
async function compare(ops: readonly OperationInfo[], name: string, fake: MemoryDynamoDb): Promise<void> {
  for (const [i, op] of ops.entries()) {
    const input = JSON.parse(JSON.stringify(op.input).replace(/"idempotency-\d+"/g, JSON.stringify(name)));
    const Command = (dynamodb as unknown as Record<string, new (input: unknown) => never>)[`${op.name}Command`];
    const want = await answer(() => real.send(new Command(input)));
    const got = await answer(() => fake.request(op.name, input, undefined));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(
        `operation ${i} ${op.name} ${JSON.stringify(input)}:\n  DynamoDB Local: ${JSON.stringify(want)}\n  MemoryDynamoDb: ${JSON.stringify(got)}`,
      );
    }
  }
}

const plans = (n: number, poisonAt = -1, bigAt = -1) =>
  Array.from({ length: n }, (_, i) => ({
    gap: i % 5 === 4 ? 2 : 0,
    poison: i === poisonAt,
    big: i === bigAt,
    route: i % 3 === 2 ? 2 : 0,
  }));
const base: Omit<Schedule, 'store' | 'source' | 'onError'> = {
  reportBatchItemFailures: true,
  recordsPerInvocation: 3,
  routes: true,
  responses: true,
  skews: [0, 1_500],
  partitions: [plans(12, 5, 7), plans(9)],
  steps: [
    {
      deliveries: [
        {
          env: 0,
          parts: [
            { p: 0, size: 8, back: 0 },
            { p: 1, size: 4, back: 0 },
          ],
        },
        { env: 1, parts: [{ p: 0, size: 3, back: 0 }] },
      ],
      advanceMs: 0,
    },
    {
      deliveries: [
        {
          env: 1,
          parts: [
            { p: 0, size: 20, back: 4 },
            { p: 1, size: 20, back: 2 },
          ],
        },
      ],
      advanceMs: 70_000,
    },
  ],
  dynamo: [],
  target: [0, 0, 1, 0, 3],
  relay: [0, 0, 0, 2],
  registry: [],
  ticks: [0, 1, 2, 3],
};

describe('MemoryDynamoDb answers as DynamoDB Local does', () => {
  const cases: Array<[Schedule['store'], Schedule['source'], Schedule['onError']]> = [
    ['ranges', 'kafka', 'log'],
    ['ranges', 'kinesis', 'fail'],
    ['items', 'kafka', 'drop'],
    ['strict', 'kafka', 'log'],
    ['strict', 'kinesis', 'fail'],
  ];
  test.each(cases)(
    'GIVEN the operations the %s store sends for %s records with %s WHEN replayed against both THEN every answer is the same',
    async (store, source, onError) => {
      // GIVEN the sequence the real stores send, captured from a simulation run against MemoryDynamoDb
      const ops: OperationInfo[] = [];
      MemoryDynamoDb.capture = (op) => {
        if (op.name !== 'CreateTable') ops.push(op);
      };
      try {
        await simulate({ ...base, store, source, onError });
      } finally {
        MemoryDynamoDb.capture = undefined;
      }
      expect(ops.length).toBeGreaterThan(20);
      const expected = {
        ranges: ['BatchGetItem', 'UpdateItem'],
        items: ['BatchGetItem', 'BatchWriteItem'],
        strict: ['PutItem', 'UpdateItem'],
      }[store];
      expect([...new Set(ops.map((o) => o.name))]).toEqual(expect.arrayContaining(expected));
      // WHEN replayed against DynamoDB Local and a fresh MemoryDynamoDb THEN each answer matches
      const { name, fake } = await newTables();
      await compare(ops, name, fake);
    },
  );

  test('GIVEN generated sequences of conditional writes, updates and reads WHEN run against both THEN every answer is the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { name, fake } = await newTables();
        await compare(ops, name, fake);
      }),
      { numRuns: Number(process.env.CONFORMANCE_RUNS ?? 60), seed: Number(process.env.CONFORMANCE_SEED ?? 20261207) },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Generated operations: expressions built from a small grammar over a few attributes of a few items

const ATTRS = ['a', 'b', 'm', 'l', 's', 'n'] as const;
type Attr = (typeof ATTRS)[number];

/** An expression under construction: its text, the names and values it uses. */
interface Built {
  text: string;
  names: Record<string, string>;
  values: Record<string, any>;
}

let valueCounter = 0;
const v = (value: any): Built => {
  const k = `:v${valueCounter++}`;
  return { text: k, names: {}, values: { [k]: value } };
};
const n = (attr: string): Built => ({ text: `#${attr}`, names: { [`#${attr}`]: attr }, values: {} });
const join = (text: string, ...parts: Built[]): Built => ({
  text,
  names: Object.assign({}, ...parts.map((p) => p.names)),
  values: Object.assign({}, ...parts.map((p) => p.values)),
});

const num = fc.integer({ min: -5, max: 20 }).map((x) => ({ N: String(x) }));
const str = fc.constantFrom('', 'x', 'xy', 'y', 'abc').map((S) => ({ S }));
const scalar = fc.oneof(num, str, fc.constant({ BOOL: true }), fc.constant({ NULL: true }));
const valueOf: Record<Attr, fc.Arbitrary<any>> = {
  a: num,
  b: str,
  n: scalar,
  m: fc.record({ x: num }).map((M) => ({ M })),
  l: fc.array(num, { maxLength: 3 }).map((L) => ({ L })),
  s: fc.uniqueArray(fc.constantFrom('p', 'q', 'r'), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })),
};
const item = fc
  .record({
    id: fc.constantFrom('k1', 'k2', 'k3').map((S) => ({ S })),
    a: fc.option(valueOf.a, { nil: undefined }),
    b: fc.option(valueOf.b, { nil: undefined }),
    m: fc.option(valueOf.m, { nil: undefined }),
    l: fc.option(valueOf.l, { nil: undefined }),
    s: fc.option(valueOf.s, { nil: undefined }),
  })
  .map((x) => Object.fromEntries(Object.entries(x).filter(([, y]) => y !== undefined)));
const key = fc.constantFrom('k1', 'k2', 'k3', 'k4').map((S) => ({ id: { S } }));

const path: fc.Arbitrary<Built> = fc.oneof(
  fc.constantFrom(...ATTRS).map(n),
  fc.constant(null).map(() => join('#m.#x', n('m'), n('x'))),
  fc.nat(3).map((i) => join(`#l[${i}]`, n('l'))),
);

const condition: fc.Arbitrary<Built> = fc.letrec((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    path.map((p) => join(`attribute_exists(${p.text})`, p)),
    path.map((p) => join(`attribute_not_exists(${p.text})`, p)),
    fc.tuple(path, fc.constantFrom('=', '<>', '<', '<=', '>', '>='), scalar).map(([p, op, x]) => {
      const y = v(x);
      return join(`${p.text} ${op} ${y.text}`, p, y);
    }),
    fc.tuple(path, num, num).map(([p, lo, hi]) => {
      const a = v(lo);
      const b = v(hi);
      return join(`${p.text} BETWEEN ${a.text} AND ${b.text}`, p, a, b);
    }),
    fc.tuple(path, scalar, scalar).map(([p, x, y]) => {
      const a = v(x);
      const b = v(y);
      return join(`${p.text} IN (${a.text}, ${b.text})`, p, a, b);
    }),
    str.map((x) => {
      const a = v(x.S === '' ? { S: 'x' } : x);
      return join(`begins_with(#b, ${a.text})`, n('b'), a);
    }),
    fc.tuple(fc.constantFrom('b', 'l', 's', 'm'), fc.constantFrom('>', '=', '<'), fc.nat(3)).map(([attr, op, k]) => {
      const a = v({ N: String(k) });
      return join(`size(#${attr}) ${op} ${a.text}`, n(attr), a);
    }),
    fc.tuple(path, fc.constantFrom('S', 'N', 'M', 'L', 'SS', 'NULL')).map(([p, t]) => {
      const a = v({ S: t });
      return join(`attribute_type(${p.text}, ${a.text})`, p, a);
    }),
    fc.constantFrom('p', 'q', 'x').map((e) => {
      const a = v({ S: e });
      return join(`contains(#s, ${a.text})`, n('s'), a);
    }),
    tie('c').map((c) => join(`NOT ${(c as Built).text}`, c as Built)),
    fc
      .tuple(tie('c'), fc.constantFrom('AND', 'OR'), tie('c'))
      .map(([x, op, y]) => join(`(${(x as Built).text} ${op} ${(y as Built).text})`, x as Built, y as Built)),
  ),
})).c;

const setAction: fc.Arbitrary<Built> = fc.oneof(
  fc.tuple(fc.constantFrom(...ATTRS), fc.constantFrom(...ATTRS)).chain(([attr, other]) =>
    valueOf[attr].map((x) => {
      const a = v(x);
      void other;
      return join(`#${attr} = ${a.text}`, n(attr), a);
    }),
  ),
  num.map((x) => {
    const a = v(x);
    return join(`#a = #a + ${a.text}`, n('a'), a);
  }),
  fc.tuple(num, num).map(([x, y]) => {
    const a = v(x);
    const b = v(y);
    return join(`#a = if_not_exists(#a, ${a.text}) - ${b.text}`, n('a'), a, b);
  }),
  valueOf.l.map((x) => {
    const a = v(x);
    const e = v({ L: [] });
    return join(`#l = list_append(if_not_exists(#l, ${e.text}), ${a.text})`, n('l'), a, e);
  }),
  num.map((x) => {
    const a = v(x);
    return join(`#m.#x = ${a.text}`, n('m'), n('x'), a);
  }),
  fc.tuple(fc.nat(4), num).map(([i, x]) => {
    const a = v(x);
    return join(`#l[${i}] = ${a.text}`, n('l'), a);
  }),
);
const update: fc.Arbitrary<Built> = fc
  .tuple(
    fc.option(fc.uniqueArray(setAction, { minLength: 1, maxLength: 2, selector: (b) => b.text.split(' ')[0].split(/[.[]/)[0] }), {
      nil: undefined,
    }),
    fc.option(fc.constantFrom('b', 'n', 'l[0]'), { nil: undefined }),
    fc.option(
      fc.oneof(
        num.map((x) => ['a', x] as const),
        valueOf.s.map((x) => ['s', x] as const),
      ),
      { nil: undefined },
    ),
    fc.option(valueOf.s, { nil: undefined }),
  )
  .map(([sets, remove, add, del]) => {
    const parts: Built[] = [];
    const touched = new Set((sets ?? []).map((s) => s.text.split(' ')[0].split(/[.[]/)[0]));
    if (sets !== undefined) parts.push(join(`SET ${sets.map((s) => s.text).join(', ')}`, ...sets));
    if (remove !== undefined && !touched.has(`#${remove.split('[')[0]}`)) {
      parts.push(join(`REMOVE #${remove}`.replace('#l[0]', '#l[0]'), n(remove.split('[')[0])));
      touched.add(`#${remove.split('[')[0]}`);
    }
    if (add !== undefined && !touched.has(`#${add[0]}`)) {
      const a = v(add[1]);
      parts.push(join(`ADD #${add[0]} ${a.text}`, n(add[0]), a));
      touched.add(`#${add[0]}`);
    }
    if (del !== undefined && !touched.has('#s')) {
      const a = v(del);
      parts.push(join(`DELETE #s ${a.text}`, n('s'), a));
    }
    if (parts.length === 0) {
      const a = v({ N: '1' });
      parts.push(join(`SET #a = ${a.text}`, n('a'), a));
    }
    return join(parts.map((p) => p.text).join(' '), ...parts);
  });

const withExpressions = (input: Record<string, unknown>, ...parts: Array<Built | undefined>) => {
  const present = parts.filter((p): p is Built => p !== undefined);
  const names = Object.assign({}, ...present.map((p) => p.names));
  const values = Object.assign({}, ...present.map((p) => p.values));
  return {
    ...input,
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
};

const TABLE = 'idempotency-0';
const operation: fc.Arbitrary<OperationInfo> = fc.oneof(
  fc.tuple(item, fc.option(condition, { nil: undefined }), fc.constantFrom('NONE', 'ALL_OLD')).map(([Item, c, rv]) => ({
    name: 'PutItem' as const,
    input: withExpressions(
      {
        TableName: TABLE,
        Item,
        ReturnValues: rv,
        ...(c ? { ConditionExpression: c.text, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
      },
      c,
    ),
  })),
  fc
    .tuple(
      key,
      update,
      fc.option(condition, { nil: undefined }),
      fc.constantFrom('NONE', 'ALL_OLD', 'ALL_NEW', 'UPDATED_OLD', 'UPDATED_NEW'),
    )
    .map(([Key, u, c, rv]) => ({
      name: 'UpdateItem' as const,
      input: withExpressions(
        { TableName: TABLE, Key, UpdateExpression: u.text, ReturnValues: rv, ...(c ? { ConditionExpression: c.text } : {}) },
        u,
        c,
      ),
    })),
  fc.tuple(key, fc.option(condition, { nil: undefined })).map(([Key, c]) => ({
    name: 'DeleteItem' as const,
    input: withExpressions({ TableName: TABLE, Key, ReturnValues: 'ALL_OLD', ...(c ? { ConditionExpression: c.text } : {}) }, c),
  })),
  key.map((Key) => ({ name: 'GetItem' as const, input: { TableName: TABLE, Key, ConsistentRead: true } })),
  fc
    .uniqueArray(key, { minLength: 1, maxLength: 4, selector: (k) => k.id.S })
    .map((Keys) => ({ name: 'BatchGetItem' as const, input: { RequestItems: { [TABLE]: { Keys, ConsistentRead: true } } } })),
  fc.uniqueArray(item, { minLength: 1, maxLength: 3, selector: (i) => (i.id as { S: string }).S }).map((items) => ({
    name: 'BatchWriteItem' as const,
    input: { RequestItems: { [TABLE]: items.map((Item) => ({ PutRequest: { Item } })) } },
  })),
);
