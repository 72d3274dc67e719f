/**
 * The dispatcher's response and error topics from a synthesized template: its configuration (CKL_DISPATCHER_CONFIG in
 * the environment of the function the mapping invokes) is JSON that CloudFormation joins from text and references, so
 * a topic is readable where its name is text in the template, and left out where it is resolved at deploy time.
 */
import * as fs from 'node:fs';
import { DISPATCHER_CONFIG_ENV } from '../../contract/dispatcher-config';

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

/** A reference's place in the joined text: no topic name holds it, so a topic around a reference is not read. */
const UNRESOLVED = '\u0000';

export function dispatcherTopics(file: string, logicalId?: string): { responseTopics: string[]; errorTopics: string[] } {
  const none = { responseTopics: [], errorTopics: [] };
  let resources: Resources;
  try {
    resources = JSON.parse(fs.readFileSync(file, 'utf8')).Resources ?? {};
  } catch {
    return none; // settingsFromTemplate has named the unreadable template already
  }
  const mappings = Object.entries(resources).filter(
    ([id, r]) =>
      r.Type === 'AWS::Lambda::EventSourceMapping' &&
      (r.Properties?.Topics || r.Properties?.SelfManagedEventSource) &&
      (logicalId === undefined || id === logicalId),
  );
  if (mappings.length !== 1) return none;
  const fn = mappings[0][1].Properties?.FunctionName;
  const fnId = fn?.['Fn::GetAtt']?.[0] ?? fn?.Ref;
  const config = resources[fnId]?.Properties?.Environment?.Variables?.[DISPATCHER_CONFIG_ENV];
  const text = joinedText(config);
  if (text === undefined) return none;
  return { responseTopics: textValues(text, 'responseTopic'), errorTopics: textValues(text, 'errorTopic') };
}

function joinedText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  if (!Array.isArray(join) || typeof join[0] !== 'string' || !Array.isArray(join[1])) return undefined;
  return join[1].map((part) => (typeof part === 'string' ? part : UNRESOLVED)).join(join[0]);
}

/** Every "key":"text" of the JSON text whose value is whole text (no reference in it), once each. */
function textValues(text: string, key: string): string[] {
  const found = [...text.matchAll(new RegExp(`"${key}":"([^"${UNRESOLVED}]+)"`, 'g'))].map((m) => m[1]);
  return [...new Set(found)];
}
