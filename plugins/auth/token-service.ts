import { randomBytes, randomUUID } from 'node:crypto'
import type { TokenStore } from '../token-store/store.js'
import { sha256 } from './compare.js'
import type { SignedToken, TokenClaims } from './jwt-signer.js'
import { grants, type ScopeHierarchy } from '../../mcp/permissions.js'

/** An OAuth error (RFC 6749 §5.2) with its HTTP status. */
export class OAuthError extends Error {
  // `error` is RFC 6749's name for the error code, not a callback's error argument.
  // eslint-disable-next-line n/handle-callback-err
  constructor (readonly error: string, readonly description: string, readonly status = 400) {
    super(description)
  }
}

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  scope: string
}

interface RefreshRecord {
  family: string
  clientId: string
  permissions: string[]
  /** Epoch milliseconds. */
  expiresAt: number
}

export interface TokenServiceOptions {
  store: TokenStore
  sign: (claims: TokenClaims) => SignedToken
  accessTokenTtl: number
  refreshTokenTtl: number
  /** Broader scopes and the narrower ones they imply, when deciding what a client may ask for. */
  scopeHierarchy?: ScopeHierarchy
  /** Told about refresh-token reuse: a security event. */
  onReuse?: (details: { clientId: string, family: string }) => void
  now?: () => number
}

/** Store keys. Refresh tokens are only ever stored as their SHA-256. */
const keys = {
  refresh: (token: string) => `rt:${sha256(token).toString('base64url')}`,
  used: (token: string) => `used:${sha256(token).toString('base64url')}`,
  revokedFamily: (family: string) => `fam:${family}`,
  revokedAccessToken: (jti: string) => `jti:${jti}`
}

/** The keys whose presence means an access token with these claims is revoked. */
export function revocationKeys (claims: Readonly<Record<string, unknown>>): string[] {
  const found: string[] = []
  if (typeof claims.jti === 'string') found.push(keys.revokedAccessToken(claims.jti))
  if (typeof claims.fam === 'string') found.push(keys.revokedFamily(claims.fam))
  return found
}

/** Narrows `requested` (a space-separated scope) to what `granted` allows; undefined widens nothing. */
export function narrowScope (granted: readonly string[], requested: string | undefined, hierarchy?: ScopeHierarchy): string[] {
  if (requested === undefined || requested.trim() === '') return [...granted]
  const asked = [...new Set(requested.split(' ').filter((s) => s !== ''))]
  const refused = asked.filter((permission) => !grants(granted, permission, hierarchy))
  if (refused.length > 0) throw new OAuthError('invalid_scope', `scope not granted to this client: ${refused.join(' ')}`)
  return asked
}

/**
 * Access tokens (short JWTs) and refresh tokens (opaque, random, stored hashed) for the built-in
 * token endpoint. A refresh token works once: refreshing returns a new pair in the same family,
 * and presenting a used one again revokes the whole family (OAuth 2.1 reuse detection).
 */
export class TokenService {
  readonly #options: TokenServiceOptions
  readonly #now: () => number

  constructor (options: TokenServiceOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /** The scopes a client holding `granted` gets when it asks for `requested` (all of them when it names none). */
  narrow (granted: readonly string[], requested: string | undefined): string[] {
    return narrowScope(granted, requested, this.#options.scopeHierarchy)
  }

  /** A new pair, starting a new family (client credentials grant). */
  async issue (clientId: string, permissions: string[]): Promise<TokenResponse> {
    return await this.#pair(clientId, permissions, randomUUID())
  }

  async refresh (clientId: string, refreshToken: string, scope: string | undefined): Promise<TokenResponse> {
    const { store } = this.#options
    const invalid = new OAuthError('invalid_grant', 'refresh token is invalid, expired, revoked or already used')
    const raw = await store.get(keys.refresh(refreshToken))
    if (raw === undefined) {
      const used = await store.get(keys.used(refreshToken))
      if (used !== undefined) await this.#reuseDetected(JSON.parse(used) as RefreshRecord)
      throw invalid
    }
    const record = JSON.parse(raw) as RefreshRecord
    if (record.clientId !== clientId) throw new OAuthError('invalid_grant', 'refresh token was issued to another client')
    const remaining = record.expiresAt - this.#now()
    // Marked used first, for as long as it would have been valid, so a replay is recognised;
    // then taken atomically: if another request took it in between, that is a replay too.
    await store.put(keys.used(refreshToken), raw, remaining)
    if (await store.take(keys.refresh(refreshToken)) === undefined) {
      await this.#reuseDetected(record)
      throw invalid
    }
    if (remaining <= 0 || await store.anyExists([keys.revokedFamily(record.family)])) throw invalid
    return await this.#pair(clientId, this.narrow(record.permissions, scope), record.family)
  }

  async #reuseDetected (record: RefreshRecord): Promise<void> {
    await this.#revokeFamily(record)
    this.#options.onReuse?.({ clientId: record.clientId, family: record.family })
  }

  /** RFC 7009: revokes a refresh token's family, or an access token's jti until it expires. */
  async revoke (clientId: string, token: string, claimsOfAccessToken: Record<string, unknown> | undefined): Promise<void> {
    const { store } = this.#options
    const raw = await store.get(keys.refresh(token)) ?? await store.get(keys.used(token))
    if (raw !== undefined) {
      const record = JSON.parse(raw) as RefreshRecord
      if (record.clientId === clientId) {
        await store.delete(keys.refresh(token))
        await this.#revokeFamily(record)
      }
      return
    }
    const claims = claimsOfAccessToken
    if (claims === undefined || claims.sub !== clientId || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') return
    await store.put(keys.revokedAccessToken(claims.jti), '1', claims.exp * 1000 - this.#now())
  }

  async #revokeFamily (record: RefreshRecord): Promise<void> {
    // Long enough to outlive every token of the family: refresh tokens live refreshTokenTtl.
    await this.#options.store.put(keys.revokedFamily(record.family), '1', this.#options.refreshTokenTtl + this.#options.accessTokenTtl)
  }

  async #pair (clientId: string, permissions: string[], family: string): Promise<TokenResponse> {
    const { sign, store, accessTokenTtl, refreshTokenTtl } = this.#options
    const access = sign({ sub: clientId, permissions, ttl: accessTokenTtl, extra: { fam: family, client_id: clientId } })
    const refreshToken = randomBytes(32).toString('base64url')
    const record: RefreshRecord = { family, clientId, permissions, expiresAt: this.#now() + refreshTokenTtl }
    await store.put(keys.refresh(refreshToken), JSON.stringify(record), refreshTokenTtl)
    return {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: Math.round(accessTokenTtl / 1000),
      refresh_token: refreshToken,
      scope: permissions.join(' ')
    }
  }
}
