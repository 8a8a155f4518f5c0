import { hash, randomBytes } from 'node:crypto'

/**
 * Remembers credentials that were verified, so a client pays the password KDF once per `ttl`
 * instead of on every request. Entries are keyed by SHA-256 over a per-process random key and the
 * user, password and stored hash: the cache holds no password, a changed hash misses, and the
 * keys, which never leave the process, cannot be precomputed. (A one-shot hash rather than an
 * HMAC: this runs on every request, and createHmac costs several times more.) Bounded to
 * `maxEntries`, least recently used first out.
 */
export class CredentialCache<T> {
  readonly #key = randomBytes(32).toString('base64')
  readonly #entries = new Map<string, { value: T, expires: number }>()
  readonly #ttl: number
  readonly #maxEntries: number
  readonly #now: () => number

  constructor (ttl: number, maxEntries: number, now: () => number = Date.now) {
    this.#ttl = ttl
    this.#maxEntries = maxEntries
    this.#now = now
  }

  keyFor (...parts: string[]): string {
    let input = this.#key
    for (const part of parts) input += `|${part.length}:${part}`
    return hash('sha256', input, 'base64')
  }

  get (key: string): T | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    this.#entries.delete(key)
    if (entry.expires <= this.#now()) return undefined
    this.#entries.set(key, entry)
    return entry.value
  }

  /** Keeps `value` for the cache's ttl, or for `ttl` when that is shorter (a credential that expires sooner). */
  set (key: string, value: T, ttl: number = this.#ttl): void {
    const keep = Math.min(ttl, this.#ttl)
    if (keep <= 0 || this.#maxEntries <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, { value, expires: this.#now() + keep })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }

  get size (): number {
    return this.#entries.size
  }
}
