import createError from '@fastify/error'

export const MCP_AUTH_STORE_UNAVAILABLE = createError('MCP_AUTH_STORE_UNAVAILABLE', 'token store unreachable, try again shortly', 503)

/**
 * Where refresh tokens and revocations live: in-process memory (one instance) or Redis (any
 * number of instances). Every entry has a TTL: nothing outlives the token it belongs to.
 * Implementations throw MCP_AUTH_STORE_UNAVAILABLE when they cannot answer; callers fail closed.
 */
export interface TokenStore {
  get (key: string): Promise<string | undefined>
  /** Whether any of `keys` exists (one round trip). */
  anyExists (keys: readonly string[]): Promise<boolean>
  put (key: string, value: string, ttlMs: number): Promise<void>
  delete (key: string): Promise<void>
  /** Reads and deletes atomically: of concurrent takers of one key, exactly one gets the value. */
  take (key: string): Promise<string | undefined>
  /** Whether the store can answer right now (for readiness). */
  ready (): Promise<boolean>
  close (): Promise<void>
}
