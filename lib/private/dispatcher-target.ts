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

/** Notes that `trigger` targets `fn`, which is not a dispatcher target. */
export function noteUnboundTrigger(fn: object, trigger: { readonly node: { readonly path: string } }): void {
  UNBOUND_TRIGGERS.set(fn, [...(UNBOUND_TRIGGERS.get(fn) ?? []), trigger.node.path]);
}

/** The paths of the triggers that targeted `fn` before it was a dispatcher target. */
export function unboundTriggers(fn: object): string[] {
  return UNBOUND_TRIGGERS.get(fn) ?? [];
}
