/** A setting of the local event source mapping that cannot work; the message names it and what was given. */
export class LocalEsmConfigError extends Error {
  public override readonly name = 'LocalEsmConfigError';
}
