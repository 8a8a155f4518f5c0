import { CredentialCache } from './credential-cache.js'
import { KdfLimiter } from './kdf-limiter.js'
import { randomBytes } from 'node:crypto'
import { DEFAULT_SCRYPT, parsePasswordHash, verifyPassword, type PasswordHash } from './password-hash.js'
import { SingleFlight } from './single-flight.js'

export interface HashedSecretOptions {
  /** How long a verified name and secret are remembered (0: not at all). */
  cacheTtl: number
  cacheSize: number
  kdfConcurrency: number
  kdfQueue: number
}

interface Entry<T> {
  hash: PasswordHash
  hashText: string
  value: T
}

/**
 * Checks a name and secret against scrypt hashes (Basic users, token-endpoint clients):
 * - a verified pair is cached for `cacheTtl`, keyed by a keyed hash of name, secret and stored
 *   hash, so a valid client pays the KDF once;
 * - an unknown name costs a KDF run against a dummy hash of the same cost, so timing does not
 *   tell which names exist;
 * - concurrent checks of the same pair share one KDF run, and KDF work is bounded
 *   (MCP_AUTH_BUSY, 503, beyond `kdfConcurrency` running and `kdfQueue` waiting).
 */
export class HashedSecretVerifier<T> {
  readonly #entries: Map<string, Entry<T>>
  readonly #dummy: PasswordHash
  readonly #cache: CredentialCache<T>
  readonly #limiter: KdfLimiter
  readonly #checks = new SingleFlight<boolean>()

  constructor (entries: Iterable<[name: string, hashText: string, value: T]>, options: HashedSecretOptions) {
    this.#entries = new Map([...entries].map(([name, hashText, value]) =>
      [name.normalize('NFC'), { hash: parsePasswordHash(hashText) as PasswordHash, hashText, value }]))
    // Random salt and hash with the first entry's cost: checking a password against it costs what
    // a real check costs and never matches. No KDF run is needed to make it.
    const cost = this.#entries.values().next().value?.hash ?? DEFAULT_SCRYPT
    this.#dummy = { N: cost.N, r: cost.r, p: cost.p, salt: randomBytes(16), hash: randomBytes(32) }
    this.#cache = new CredentialCache<T>(options.cacheTtl, options.cacheSize)
    this.#limiter = new KdfLimiter(options.kdfConcurrency, options.kdfQueue)
  }

  /**
   * The entry's value when `secret` matches `name`'s hash; undefined otherwise. `beforeWork` runs
   * before a KDF run, never for a pair found in the cache or one whose check is already running
   * (which this one joins); what it throws refuses the check, and the checks that joined it.
   */
  async verify (name: string, secret: string, beforeWork?: () => Promise<void>): Promise<T | undefined> {
    const entry = this.#entries.get(name.normalize('NFC'))
    const cacheKey = this.#cache.keyFor(name, secret, entry?.hashText ?? '')
    const cached = entry === undefined ? undefined : this.#cache.get(cacheKey)
    if (cached !== undefined) return cached
    const hash = entry?.hash ?? this.#dummy
    // Inside the single flight: a check that joins one already running costs no work, so it is not counted.
    const matches = await this.#checks.run(cacheKey, async () => {
      if (beforeWork !== undefined) await beforeWork()
      return await this.#limiter.run(() => verifyPassword(secret, hash))
    })
    if (entry === undefined || !matches) return undefined
    this.#cache.set(cacheKey, entry.value)
    return entry.value
  }
}
