/**
 * A value that is usually ready at once (a cached server, a synchronous access check) and
 * sometimes not yet. Producers return it so the common case allocates no promise; consumers use
 * `andThen`, or `await` it inside code that is async anyway.
 */
export type MaybePromise<T> = T | Promise<T>

/** `next(value)`: synchronously when `value` is there, after it settles when it is a promise. */
export function andThen<T, R> (value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value)
}

/** The value, or `fallback` when it is a promise that rejects (a synchronous value stays synchronous). */
export function orElse<T> (value: MaybePromise<T>, fallback: T): MaybePromise<T> {
  return value instanceof Promise ? value.catch(() => fallback) : value
}
