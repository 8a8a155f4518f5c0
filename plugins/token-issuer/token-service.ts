import { randomBytes, randomUUID } from 'node:crypto'
import type { StoreEntry, TokenStore } from '../token-store/store.js'
import { sha256 } from '../credentials/compare.js'
import type { IssuedClaims, SignedToken } from '../../core/signing.js'
import { OAuthError } from '../../core/errors.js'
import { grants, type ScopeHierarchy } from '../../core/permissions.js'

export interface TokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  scope: string
}

/** What a refresh token grants, stored under its hash. `permissions` is the family's grant: refreshing never changes it. */
interface RefreshRecord {
  family: string
  clientId: string
  /** The user who granted it (authorization code flow); absent: the client itself (client credentials). */
  subject?: string
  permissions: string[]
  /** Epoch milliseconds. */
  expiresAt: number
  /** Epoch milliseconds: when it was rotated (only in the record kept once it is used). */
  rotatedAt?: number
}

/** What a client asks for at the token endpoint, besides the grant itself. */
export interface GrantRequest {
  /** The `scope` parameter (space-separated); undefined asks for everything the grant holds. */
  scope?: string | undefined
  /** The token's `aud` (from RFC 8707 `resource`); undefined keeps the default audience. */
  audience?: string | undefined
  /** RFC 8705: the client certificate's `x5t#S256`, to bind the access token to (`cnf`). */
  certificateThumbprint?: string | undefined
}

export const DEFAULT_REUSE_INTERVAL = 2000

export interface TokenServiceOptions {
  store: TokenStore
  sign: (claims: IssuedClaims) => SignedToken
  accessTokenTtl: number
  refreshTokenTtl: number
  /**
   * The permissions a client holds now (from the config, or its registration), undefined once it
   * is gone: every refresh is bounded by them. May read the store (a registered client's record).
   */
  clientPermissions: (clientId: string) => readonly string[] | undefined | Promise<readonly string[] | undefined>
  /** The permissions a signed-in user holds now (from the config), undefined once they are gone: bounds their grants' refreshes. */
  subjectPermissions?: (subject: string) => readonly string[] | undefined
  /**
   * Milliseconds after a refresh token's rotation during which presenting it again is taken for a
   * duplicate submission (refused, the family kept) rather than reuse (the family revoked). Default 2 s.
   */
  reuseInterval?: number
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

/**
 * The permissions both `a` and `b` allow, following wildcards and the hierarchy: a permission of
 * one side that the other side covers (so `calculator:*` and `calculator:add` meet at `calculator:add`).
 */
export function intersectScopes (a: readonly string[], b: readonly string[], hierarchy?: ScopeHierarchy): string[] {
  return [...new Set([...a.filter((scope) => grants(b, scope, hierarchy)), ...b.filter((scope) => grants(a, scope, hierarchy))])]
}

/** RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** Whether `scope` is a well-formed RFC 6749 §3.3 scope parameter (space-separated scope tokens). */
export function isWellFormedScope (scope: string): boolean {
  return scope.split(' ').filter((token) => token !== '').every((token) => SCOPE_TOKEN.test(token))
}

/**
 * What a client holding `held` gets when it asks for `requested` (a space-separated scope): all
 * of `held` when it names none, else the intersection (RFC 6749 §3.3 lets the server grant less;
 * the response's `scope` says what). `invalid_scope` only when nothing is left, or it is malformed.
 */
export function narrowScope (held: readonly string[], requested: string | undefined, hierarchy?: ScopeHierarchy): string[] {
  if (requested === undefined || requested.trim() === '') return [...held]
  const asked = requested.split(' ').filter((scope) => scope !== '')
  if (!asked.every((scope) => SCOPE_TOKEN.test(scope))) throw new OAuthError('invalid_scope', 'scope is malformed: space-separated scope tokens (RFC 6749 §3.3)')
  const granted = intersectScopes(asked, held, hierarchy)
  if (granted.length === 0) throw new OAuthError('invalid_scope', 'none of the requested scopes is granted to this client')
  return granted
}

function parseRecord (raw: string | undefined): RefreshRecord | undefined {
  if (raw === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { family, clientId, subject, permissions, expiresAt, rotatedAt } = value as Record<string, unknown>
  if (typeof family !== 'string' || typeof clientId !== 'string' || typeof expiresAt !== 'number') return undefined
  if (!Array.isArray(permissions) || !permissions.every((permission) => typeof permission === 'string')) return undefined
  return { family, clientId, permissions, expiresAt, ...(typeof subject === 'string' ? { subject } : {}), ...(typeof rotatedAt === 'number' ? { rotatedAt } : {}) }
}

/** One message for every refused refresh token: the answer does not say whether it exists, or whose it is. */
const invalidGrant = (): OAuthError => new OAuthError('invalid_grant', 'refresh token is invalid, expired, revoked or already used')

/**
 * Access tokens (short JWTs) and refresh tokens (opaque, random, stored hashed) for the built-in
 * token endpoint. A refresh token works once: refreshing returns a new pair in the same family,
 * and presenting a used one again revokes the whole family (OAuth 2.1 reuse detection), unless
 * it comes within `reuseInterval` of its rotation (a duplicate submission: refused, nothing revoked).
 * A refused refresh changes nothing: everything that can refuse is checked before the token is used.
 */
export class TokenService {
  readonly #options: TokenServiceOptions
  readonly #now: () => number
  readonly #reuseInterval: number

  constructor (options: TokenServiceOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#reuseInterval = options.reuseInterval ?? DEFAULT_REUSE_INTERVAL
  }

  /** A new pair, starting a new family (client credentials grant); `held`: the client's permissions. */
  async issue (clientId: string, held: readonly string[], request: GrantRequest = {}): Promise<TokenResponse> {
    const permissions = narrowScope(held, request.scope, this.#options.scopeHierarchy)
    const { response, entry } = this.#mint({ clientId, family: randomUUID() }, permissions, permissions, request)
    await this.#options.store.put(entry.key, entry.value, entry.ttlMs)
    return response
  }

  /**
   * A new pair for what a user granted a client (authorization code grant): `sub` is the user,
   * `client_id` the client, `permissions` already narrowed; `family` chosen by the caller, so a
   * replayed code can revoke what it issued.
   */
  async issueForUser (grant: { clientId: string, subject: string, family: string, permissions: readonly string[] }, request: GrantRequest = {}): Promise<TokenResponse> {
    const permissions = [...grant.permissions]
    const { response, entry } = this.#mint(grant, permissions, permissions, request)
    await this.#options.store.put(entry.key, entry.value, entry.ttlMs)
    return response
  }

  async refresh (clientId: string, refreshToken: string, request: GrantRequest = {}): Promise<TokenResponse> {
    const { store, scopeHierarchy } = this.#options
    const record = parseRecord(await store.get(keys.refresh(refreshToken)))
    if (record === undefined) return await this.#refused(clientId, refreshToken)
    // Presented by another client: refused and left alone (neither used up nor a revocation).
    if (record.clientId !== clientId) throw invalidGrant()
    const remaining = record.expiresAt - this.#now()
    if (remaining <= 0 || await store.anyExists([keys.revokedFamily(record.family)])) throw invalidGrant()
    const current = await this.#current(record)
    if (current === undefined) throw invalidGrant()
    // The family's grant, bounded by what the config gives the client (and user) today, narrowed by `scope`.
    const permissions = narrowScope(intersectScopes(record.permissions, current, scopeHierarchy), request.scope, scopeHierarchy)
    const { response, entry } = this.#mint(record, permissions, record.permissions, request)
    // One atomic step: the token is gone, its used record and the new refresh token are there.
    const used: StoreEntry = { key: keys.used(refreshToken), value: JSON.stringify({ ...record, rotatedAt: this.#now() }), ttlMs: remaining }
    if (await store.swap(keys.refresh(refreshToken), [used, entry]) === undefined) return await this.#refused(clientId, refreshToken)
    return response
  }

  /** What the config grants the family's client, and its user if it has one, today; undefined once either is gone. */
  async #current (record: RefreshRecord): Promise<readonly string[] | undefined> {
    const client = await this.#options.clientPermissions(record.clientId)
    if (client === undefined || record.subject === undefined) return client
    const user = this.#options.subjectPermissions?.(record.subject)
    return user === undefined ? undefined : intersectScopes(client, user, this.#options.scopeHierarchy)
  }

  /** A refresh token that is not (or no longer) live: reuse when it was rotated longer ago than the interval. */
  async #refused (clientId: string, refreshToken: string): Promise<never> {
    const used = parseRecord(await this.#options.store.get(keys.used(refreshToken)))
    if (used !== undefined && used.clientId === clientId && this.#now() - (used.rotatedAt ?? 0) >= this.#reuseInterval) {
      await this.#revokeFamily(used.family)
      this.#options.onReuse?.({ clientId: used.clientId, family: used.family })
    }
    throw invalidGrant()
  }

  /** RFC 7009: revokes a refresh token's family, or an access token's jti until it expires; only the client's own. */
  async revoke (clientId: string, token: string, claimsOfAccessToken: Record<string, unknown> | undefined): Promise<void> {
    const { store } = this.#options
    const record = parseRecord(await store.get(keys.refresh(token)) ?? await store.get(keys.used(token)))
    if (record !== undefined) {
      if (record.clientId === clientId) {
        await store.delete(keys.refresh(token))
        await this.#revokeFamily(record.family)
      }
      return
    }
    const claims = claimsOfAccessToken
    // client_id: only tokens this endpoint issued to this client (not ones the `token` command signed).
    if (claims === undefined || claims.client_id !== clientId || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') return
    await store.put(keys.revokedAccessToken(claims.jti), '1', claims.exp * 1000 - this.#now())
  }

  /** Revokes every token of a family (a replayed authorization code revokes what it issued, RFC 6749 §4.1.2). */
  async revokeFamily (family: string): Promise<void> {
    await this.#revokeFamily(family)
  }

  async #revokeFamily (family: string): Promise<void> {
    // Long enough to outlive every token of the family: refresh tokens live refreshTokenTtl.
    await this.#options.store.put(keys.revokedFamily(family), '1', this.#options.refreshTokenTtl + this.#options.accessTokenTtl)
  }

  /** A signed access token and a new refresh token, not stored yet: `entry` is what to store. */
  #mint ({ clientId, subject, family }: { clientId: string, subject?: string | undefined, family: string }, permissions: string[], grant: string[], { audience, certificateThumbprint }: GrantRequest): { response: TokenResponse, entry: StoreEntry } {
    const { sign, accessTokenTtl, refreshTokenTtl } = this.#options
    const cnf = certificateThumbprint === undefined ? {} : { cnf: { 'x5t#S256': certificateThumbprint } }
    const access = sign({ sub: subject ?? clientId, permissions, ttl: accessTokenTtl, extra: { fam: family, client_id: clientId, ...cnf }, ...(audience === undefined ? {} : { audience }) })
    const refreshToken = randomBytes(32).toString('base64url')
    const record: RefreshRecord = { family, clientId, ...(subject === undefined ? {} : { subject }), permissions: grant, expiresAt: this.#now() + refreshTokenTtl }
    return {
      response: {
        access_token: access.token,
        token_type: 'Bearer',
        expires_in: Math.round(accessTokenTtl / 1000),
        refresh_token: refreshToken,
        scope: permissions.join(' ')
      },
      entry: { key: keys.refresh(refreshToken), value: JSON.stringify(record), ttlMs: refreshTokenTtl }
    }
  }
}
