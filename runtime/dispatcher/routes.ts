import type { RouteMatch } from '../../contract/dispatcher-config';
import type { DispatcherRoute } from './options';
import type { SourceRecord } from './source';

export type { RouteMatch } from '../../contract/dispatcher-config';
// The type lives with the options that hold it, so options.ts needs nothing of this module.
export type { DispatcherRoute } from './options';

/** Whether a record meets a route's conditions. */
export function routeMatches(match: RouteMatch, record: SourceRecord): boolean {
  if (match.topics !== undefined && !match.topics.includes(record.topic)) return false;
  if (match.header !== undefined && record.header(match.header.name)?.toString('utf8') !== match.header.value) return false;
  if (match.keyPrefix !== undefined && !(record.keyAsText() ?? '').startsWith(match.keyPrefix)) return false;
  return true;
}

/** The first route that takes the record, or undefined. */
export function routeOf(routes: readonly DispatcherRoute[], record: SourceRecord): DispatcherRoute | undefined {
  return routes.find((r) => routeMatches(r.match, record));
}

/** Items by the response topic of the route their record takes; those of a route without one are left out. */
export function byResponseTopic<T extends { readonly record: SourceRecord }>(
  routes: readonly DispatcherRoute[],
  items: readonly T[],
): Map<string, T[]> {
  const byTopic = new Map<string, T[]>();
  for (const item of items) {
    const topic = routeOf(routes, item.record)?.responseTopic;
    if (topic !== undefined) byTopic.set(topic, [...(byTopic.get(topic) ?? []), item]);
  }
  return byTopic;
}
