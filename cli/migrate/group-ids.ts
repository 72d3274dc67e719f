/**
 * The consumer group IDs a LambdaSinkConnector's trigger generates, computed without aws-cdk-lib (the command is
 * bundled without it): `Names.uniqueResourceName(trigger, { maxLength: 120, separator: '-' })` of the path
 * `<stack name>/<construct id>/Trigger`, plus `-<topic>` when there are several topics (lib/kafka-trigger.ts).
 * test/cli/migrate/plan-synth.test.ts checks them against a synthesized template.
 */
import { createHash } from 'node:crypto';

const HASH_LEN = 8;

/** The group of each topic of a connector `constructId` placed directly in the stack `stackName`. */
export function generatedGroupIds(stackName: string, constructId: string, topics: string[]): string[] {
  const base = uniqueResourceName([stackName, constructId, 'Trigger'], 120, '-');
  return topics.map((t) => (topics.length === 1 ? base : `${base}-${t}`.slice(0, 200)));
}

/** aws-cdk-lib's makeUniqueResourceName (core/lib/private/unique-resource-name), for a path of two or more ids. */
function uniqueResourceName(components: string[], maxLength: number, separator: string): string {
  const path = components.filter((c) => c !== 'Default');
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, HASH_LEN).toUpperCase();
  const human =
    removeDupes(path)
      .filter((c) => c !== 'Resource')
      .map((c) => c.replace(/[^A-Za-z0-9]/g, ''))
      .filter((c) => c)
      .join(separator) + separator;
  const max = maxLength - HASH_LEN;
  return human.length > max ? `${human.slice(0, max / 2)}${human.slice(-max / 2)}${hash}` : `${human}${hash}`;
}

function removeDupes(path: string[]): string[] {
  const out: string[] = [];
  for (const c of path) if (out.length === 0 || !out[out.length - 1].endsWith(c)) out.push(c);
  return out;
}

/** Lambda's rule for a consumer group ID: 1–200 characters of `[a-zA-Z0-9-/*:_+=.@-]`. */
export function validGroupId(id: string): boolean {
  return /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/.test(id);
}
