/**
 * The mark of an object that implements IDispatcherTarget (../dispatcher-target.ts), as aws-cdk marks its Stacks: a
 * symbol from the global registry, so two copies of the library still recognise each other's dispatchers. Its value is
 * the dispatcher target: the object itself, or on a function an InProcessDispatcher is attached to, that dispatcher.
 */
export const DISPATCHER_TARGET_SYMBOL = Symbol.for('cdk-kafka-lambda.IDispatcherTarget');

/**
 * Functions a trigger targeted before they were dispatcher targets, with the triggers' paths: an InProcessDispatcher
 * attached later would not be bound to those triggers, so it refuses such a function.
 */
const UNBOUND_TRIGGERS = new WeakMap<object, string[]>();

/**
 * The function a trigger's target runs: a version's function (`lambda.IVersion.lambda`), an alias's version's function
 * (`lambda.IAlias.version.lambda`), otherwise the target itself. A mapping to a version or an alias runs the function's
 * code and configuration, so it binds to the function's dispatcher.
 */
export function functionOf(target: any): any {
  const version = target?.version !== null && typeof target?.version === 'object' ? target.version : target;
  return version?.lambda !== null && typeof version?.lambda === 'object' ? version.lambda : target;
}

/** Notes that `trigger` targets `fn` (or a version or alias of it), which is not a dispatcher target. */
export function noteUnboundTrigger(target: object, trigger: { readonly node: { readonly path: string } }): void {
  const fn = functionOf(target);
  UNBOUND_TRIGGERS.set(fn, [...(UNBOUND_TRIGGERS.get(fn) ?? []), trigger.node.path]);
}

/** The paths of the triggers that targeted `fn` before it was a dispatcher target. */
export function unboundTriggers(fn: object): string[] {
  return UNBOUND_TRIGGERS.get(fn) ?? [];
}
