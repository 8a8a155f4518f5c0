import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { OAuthError } from '../../core/errors.js'
import { sha256 } from '../credentials/compare.js'
import type { TokenStore } from '../token-store/store.js'

/** What a code stands for: one user's consent to one client, for one redirect URI and PKCE challenge. */
export interface CodeGrant {
  clientId: string
  redirectUri: string
  /** PKCE S256: BASE64URL(SHA256(code_verifier)). */
  codeChallenge: string
  user: string
  permissions: string[]
  /** RFC 8707 `resource` as requested (normalized), and the `aud` it gives; both absent without one. */
  resource?: string | undefined
  audience?: string | undefined
}

export interface RedeemedCode extends CodeGrant {
  /** The token family the code's tokens belong to: revoked when the code is presented again. */
  family: string
}

export interface CodeExchange {
  clientId: string
  redirectUri: string | undefined
  codeVerifier: string | undefined
  resource: string | undefined
}

export const CODE_TTL = 60_000

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/
/** A S256 challenge: 43 base64url characters (32 bytes). */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

const keys = {
  code: (code: string) => `code:${sha256(code).toString('base64url')}`,
  used: (code: string) => `code-used:${sha256(code).toString('base64url')}`
}

/** One answer for every refused code: it does not say whether the code existed, or whose it was. */
const invalidGrant = (): OAuthError => new OAuthError('invalid_grant', 'authorization code is invalid, expired or already used, or the redirect_uri, code_verifier or client does not match it')

function verifierMatches (verifier: string | undefined, challenge: string): boolean {
  if (verifier === undefined || !VERIFIER.test(verifier)) return false
  const computed = createHash('sha256').update(verifier, 'ascii').digest()
  const expected = Buffer.from(challenge, 'base64url')
  return expected.length === computed.length && timingSafeEqual(computed, expected)
}

function parse (raw: string): RedeemedCode | undefined {
  try {
    const value = JSON.parse(raw) as Partial<RedeemedCode>
    if (typeof value.clientId !== 'string' || typeof value.redirectUri !== 'string' || typeof value.codeChallenge !== 'string' ||
      typeof value.user !== 'string' || typeof value.family !== 'string' || !Array.isArray(value.permissions)) return undefined
    return value as RedeemedCode
  } catch {
    return undefined
  }
}

/**
 * Authorization codes (RFC 6749 §4.1, OAuth 2.1 with PKCE): random, single-use, live CODE_TTL,
 * stored only as their SHA-256. Redeeming one leaves a marker holding its token family, so a code
 * presented again revokes every token it issued (RFC 6749 §4.1.2). A refused exchange still uses
 * the code up: a wrong verifier cannot be retried.
 */
export class AuthorizationCodes {
  readonly #store: TokenStore
  readonly #markerTtl: number
  readonly #onReplay: (family: string, clientId: string) => Promise<void>

  /** `markerTtl`: how long a used code is remembered (as long as the tokens it issued may live). */
  constructor (store: TokenStore, markerTtl: number, onReplay: (family: string, clientId: string) => Promise<void>) {
    this.#store = store
    this.#markerTtl = markerTtl
    this.#onReplay = onReplay
  }

  async create (grant: CodeGrant): Promise<string> {
    const code = randomBytes(32).toString('base64url')
    const record: RedeemedCode = { ...grant, family: randomUUID() }
    await this.#store.put(keys.code(code), JSON.stringify(record), CODE_TTL)
    return code
  }

  async redeem (code: string, exchange: CodeExchange): Promise<RedeemedCode> {
    const raw = await this.#store.get(keys.code(code))
    const record = raw === undefined ? undefined : parse(raw)
    const marker = { key: keys.used(code), value: JSON.stringify({ family: record?.family ?? '', clientId: record?.clientId ?? '' }), ttlMs: this.#markerTtl }
    if (record === undefined || await this.#store.swap(keys.code(code), [marker]) === undefined) return await this.#replayed(code)
    const resourceMatches = exchange.resource === undefined || exchange.resource === record.resource
    const valid = record.clientId === exchange.clientId && record.redirectUri === exchange.redirectUri && resourceMatches
    // The verifier is checked whatever else failed, so timing does not tell which part did.
    if (!verifierMatches(exchange.codeVerifier, record.codeChallenge) || !valid) throw invalidGrant()
    return record
  }

  async #replayed (code: string): Promise<never> {
    const marker = await this.#store.get(keys.used(code))
    if (marker !== undefined) {
      const { family, clientId } = JSON.parse(marker) as { family: string, clientId: string }
      if (family !== '') await this.#onReplay(family, clientId)
    }
    throw invalidGrant()
  }
}
