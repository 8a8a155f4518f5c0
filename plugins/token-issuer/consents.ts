import { randomBytes } from 'node:crypto'
import { sha256 } from '../credentials/compare.js'
import type { TokenStore } from '../token-store/store.js'

const hashed = (text: string): string => sha256(text).toString('base64url')

/**
 * A user's consent epoch, set by revoking all of their consent: every consent key written under
 * an earlier epoch (or under none) is then out of reach, and expires on its own. It outlives every
 * consent written before it (see forgetAll).
 */
const epochKey = (user: string): string => `consent-epoch:${hashed(user)}`

/** The least an epoch is kept: longer than any consentTtl a deployment is likely to have used. */
export const MIN_EPOCH_TTL = 400 * 24 * 60 * 60_000

/**
 * Remembered consent of one user to one client: `consent:<sha256 of client id, NUL, username>`
 * until the user's consent is first revoked as a whole, then with NUL and the epoch appended.
 */
export const consentKey = (clientId: string, user: string, epoch?: string): string =>
  `consent:${hashed(epoch === undefined ? `${clientId}\0${user}` : `${clientId}\0${user}\0${epoch}`)}`

function parseScopes (raw: string | undefined): string[] {
  if (raw === undefined) return []
  try {
    const value: unknown = JSON.parse(raw)
    return Array.isArray(value) ? value.filter((scope): scope is string => typeof scope === 'string') : []
  } catch {
    return []
  }
}

/** The scopes each user allowed each client, remembered in the token store (so every instance and the CLI see them). */
export class RememberedConsent {
  readonly #store: TokenStore

  constructor (store: TokenStore) {
    this.#store = store
  }

  async #key (clientId: string, user: string): Promise<string> {
    const name = user.normalize('NFC')
    return consentKey(clientId, name, await this.#store.get(epochKey(name)))
  }

  /** The scopes `user` allowed `clientId` (none when nothing is remembered). */
  async scopes (clientId: string, user: string): Promise<string[]> {
    return parseScopes(await this.#store.get(await this.#key(clientId, user)))
  }

  /** Remembers `permissions` for `ttl` ms; 0: nothing is remembered. */
  async remember (clientId: string, user: string, permissions: readonly string[], ttl: number): Promise<void> {
    if (ttl > 0) await this.#store.put(await this.#key(clientId, user), JSON.stringify(permissions), ttl)
  }

  /** Forgets what `user` allowed `clientId`; resolves with the scopes that were remembered (none: there was nothing to forget). */
  async forget (clientId: string, user: string): Promise<string[]> {
    return parseScopes(await this.#store.take(await this.#key(clientId, user)))
  }

  /**
   * Forgets what `user` allowed every client, registered or not: a new epoch, kept for `ttl` ms
   * (the configured consentTtl) but at least MIN_EPOCH_TTL, so consent written under a longer
   * consentTtl than the one given here cannot come back when the epoch expires.
   */
  async forgetAll (user: string, ttl: number): Promise<void> {
    if (ttl > 0) await this.#store.put(epochKey(user.normalize('NFC')), randomBytes(16).toString('base64url'), Math.max(ttl, MIN_EPOCH_TTL))
  }
}
