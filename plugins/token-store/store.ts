/** An entry to write, with its lifetime in milliseconds (nothing is written without one). */
export interface StoreEntry {
  key: string
  value: string
  ttlMs: number
}

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
  /**
   * Atomically: when `key` exists, deletes it, writes `writes` and returns the value it had; when
   * it does not, changes nothing and returns undefined. Of concurrent swaps of one key exactly one
   * wins, and nobody sees the key gone without the writes done (refresh-token rotation).
   */
  swap (key: string, writes: readonly StoreEntry[]): Promise<string | undefined>
  /**
   * Writes `key` for `ttlMs` (at least 1 ms) unless it exists: true when this call wrote it, false
   * when it was already there. Of concurrent calls for one key exactly one gets true (SET NX PX):
   * single-use values such as a client assertion's jti.
   */
  rememberOnce (key: string, ttlMs: number): Promise<boolean>
  /** Whether the store can answer right now (for readiness). */
  ready (): Promise<boolean>
  close (): Promise<void>
}
