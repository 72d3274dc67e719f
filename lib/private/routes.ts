import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RouteConfig, RouteMatch } from '../../contract/dispatcher-config';
import { DispatcherInvocationType, DispatcherPayloadFormat, DispatcherRoute, KafkaRelayProps } from '../dispatcher-props';
import { targetAccess } from './target-access';
import { EndpointNeed } from './vpc-endpoints';

type Fail = (prop: string, value: unknown, fix: string) => never;

export interface RoutesRequest {
  readonly routes: readonly DispatcherRoute[];
  readonly invocationType: DispatcherInvocationType;
  readonly payloadFormat: DispatcherPayloadFormat;
  readonly relay?: KafkaRelayProps;
  readonly role: iam.IRole;
  readonly fail: Fail;
}

/** The routes' configuration, the endpoints their invocations need, and the topics they relay results to. */
export interface DispatcherRoutes {
  readonly config: RouteConfig[];
  readonly needs: EndpointNeed[];
  readonly responseTopics: string[];
}

/** A route's conditions, as the configuration and the messages write them. */
function conditions(r: DispatcherRoute): RouteMatch {
  return { topics: r.topics, header: r.header && { name: r.header.name, value: r.header.value }, keyPrefix: r.keyPrefix };
}

const known = (...values: Array<string | undefined>) => values.every((v) => v === undefined || !Token.isUnresolved(v));

/** Every record `later` takes, `earlier` takes too (so `later` takes none). False when tokens hide the answer. */
function shadows(earlier: DispatcherRoute, later: DispatcherRoute): boolean {
  if (
    !known(
      ...(earlier.topics ?? []),
      ...(later.topics ?? []),
      earlier.keyPrefix,
      later.keyPrefix,
      earlier.header?.name,
      earlier.header?.value,
      later.header?.name,
      later.header?.value,
    )
  )
    return false;
  const topics =
    earlier.topics === undefined || (later.topics !== undefined && later.topics.every((t) => earlier.topics!.includes(t)));
  const header =
    earlier.header === undefined || (later.header?.name === earlier.header.name && later.header.value === earlier.header.value);
  const key = earlier.keyPrefix === undefined || (later.keyPrefix !== undefined && later.keyPrefix.startsWith(earlier.keyPrefix));
  return topics && header && key;
}

/**
 * Checks the routes (each takes some record, its response topic can be relayed), grants the invocation of each
 * target (as for the default target: its own role, or an assumed one) and returns their configuration and the
 * endpoints their invocations need.
 */
export function dispatcherRoutes(scope: Construct, r: RoutesRequest): DispatcherRoutes {
  const needs: EndpointNeed[] = [];
  const config = r.routes.map((route, i): RouteConfig => {
    const prop = `routes[${i}]`;
    if (route.topics !== undefined && route.topics.length === 0)
      r.fail(`${prop}.topics`, route.topics, 'give at least one topic, or leave topics out to take every topic');
    if (route.keyPrefix === '')
      r.fail(`${prop}.keyPrefix`, route.keyPrefix, 'give a prefix, or leave keyPrefix out to take every key');
    if (route.header !== undefined && route.header.name === '')
      r.fail(`${prop}.header.name`, route.header.name, 'name the header to match');
    const earlier = r.routes.findIndex((e, j) => j < i && shadows(e, route));
    if (earlier >= 0) {
      r.fail(
        prop,
        conditions(route),
        `routes[${earlier}] (${JSON.stringify(conditions(r.routes[earlier]))}) comes first and takes every record this one would: put this route before it, or narrow routes[${earlier}]`,
      );
    }
    const invocationType = route.invocationType ?? r.invocationType;
    if (route.responseTopic !== undefined) {
      if (r.relay === undefined)
        r.fail(
          `${prop}.responseTopic`,
          route.responseTopic,
          'results are relayed to Kafka by the relay: set relay (its cluster and auth), or remove responseTopic',
        );
      if (invocationType === DispatcherInvocationType.EVENT)
        r.fail(
          `${prop}.responseTopic`,
          route.responseTopic,
          'an asynchronous (EVENT) invocation returns no result: remove responseTopic or invoke this target with REQUEST_RESPONSE',
        );
      if (route.responseTopic === r.relay.errorTopic)
        r.fail(
          `${prop}.responseTopic`,
          route.responseTopic,
          'results and failures need different topics; name another response topic',
        );
    }
    const access = targetAccess(scope, {
      target: route.target,
      targetRole: route.targetRole,
      targetRoleExternalId: route.targetRoleExternalId,
      role: r.role,
      propPrefix: `${prop}.`,
      outputId: `Route${i}TargetOwnerPolicy`,
      fail: r.fail,
    });
    needs.push(...access.needs);
    return {
      match: conditions(route),
      functionName: route.target.functionArn,
      invocationType,
      payloadFormat: route.payloadFormat ?? r.payloadFormat,
      responseTopic: route.responseTopic,
      assumeRole: access.assumeRole,
    };
  });
  return { config, needs, responseTopics: r.routes.flatMap((route) => route.responseTopic ?? []) };
}
