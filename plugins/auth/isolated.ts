import type { FastifyInstance, FastifyRequest } from 'fastify'

/** A library plugin a strategy uses as a parser, and the decorator it reads once registered. */
export interface IsolatedLibrary<T> {
  /** Names the decorator in the error thrown when it is missing, e.g. "@fastify/basic-auth's basicAuth". */
  provides: string
  register: (child: FastifyInstance) => PromiseLike<unknown>
  read: (child: FastifyInstance) => T | undefined
}

/**
 * Registers a library in a child context of its own, so that its decorators cannot clash with a
 * host app's, and returns the decorator it provides there. What the library concludes for a
 * request comes back through a {@link PerRequest}.
 */
export async function registerIsolated<T> (fastify: FastifyInstance, library: IsolatedLibrary<T>): Promise<T> {
  let decorator: T | undefined
  await fastify.register(async function isolatedLibrary (child) {
    await library.register(child)
    decorator = library.read(child)
  })
  if (decorator === undefined) throw new Error(`${library.provides} is missing once the library is registered`)
  return decorator
}

/**
 * One value per request, carried across a library's callback: a verdict out of it, or what the
 * callback needs into it. Held weakly, so a request that never takes its value still frees it.
 */
export class PerRequest<T> {
  readonly #values = new WeakMap<FastifyRequest, T>()

  set (request: FastifyRequest, value: T): void {
    this.#values.set(request, value)
  }

  /** The request's value, which the request no longer carries. */
  take (request: FastifyRequest): T | undefined {
    const value = this.#values.get(request)
    this.#values.delete(request)
    return value
  }
}
