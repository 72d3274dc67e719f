/** What both fault ledgers (Kafka, Kinesis) produce and run: the records' marks and the functions under the Lambda emulator. */
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
/** The target functions (test/fixtures/targets/index.js). */
export const TARGETS = path.join(ROOT, 'test', 'fixtures', 'targets');
/** The dispatcher bundle, built by npm run build. */
export const DISPATCHER = path.join(ROOT, 'assets', 'dispatcher');
export const TARGET_BATCH = 25;
/** Every POISON_EVERY-th record (and record 1) asks the target to fail (or, in decode-poison-log, is spoiled). */
export const POISON_EVERY = 250;
/** Every record's value carries this; no log line of the dispatcher may. */
export const CANARY = 'CANARY-5b1f0c7e-record-bytes';
export const isPoison = (i: number) => i === 1 || i % POISON_EVERY === 0;
