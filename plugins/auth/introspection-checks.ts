import type { AuthOutcome } from '../../core/authenticator.js'
import { frozenPrincipal } from '../../core/principal.js'
import { claim, permissionsFrom, wrongTypedClaim, type Claims } from './jwt-claims.js'

// What an introspection response must say for its token to be accepted. Every member read has its
// type checked, and nothing is coerced: `active` must be the boolean true, not "true".

/** Why a response refuses its token, as the audit line's `detail`. */
export const IntrospectionRefusal = {
  /** `active` is not true: revoked, expired, unknown, or not this server's to know (RFC 7662 does not say which). */
  Inactive: 'inactive',
  /** The authorization server will not introspect this kind of token (a JWT access token, for some). */
  UnsupportedToken: 'unsupported_token_type',
  /** A member this strategy reads has the wrong type. */
  ClaimType: 'claim_type',
  /** No `exp`: this strategy does not accept tokens that never expire. */
  NoExpiry: 'no_expiry',
  Expired: 'expired',
  /** `nbf` in the future. */
  NotYetValid: 'not_yet_valid',
  WrongIssuer: 'wrong_issuer',
  /** No `aud` while requireAudience is on. */
  NoAudience: 'no_audience',
  WrongAudience: 'wrong_audience',
  /** A `token_type` other than Bearer (a DPoP-bound token, whose proof this strategy does not check). */
  WrongTokenType: 'wrong_token_type',
  /** Neither `sub` nor `client_id` names the principal. */
  NoSubject: 'no_subject'
} as const

export interface ResponseChecks {
  issuer: string
  audiences: readonly string[]
  requireAudience: boolean
  permissionsClaim: string
}

/** What a response decides: the outcome, and for an accepted token the seconds until its `exp`. */
export interface Judgement {
  outcome: AuthOutcome
  expiresIn?: number
}

const refused = (detail: string): Judgement => ({ outcome: { ok: false, reason: 'invalid_credentials', detail } })

function isStringList (value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/** The first optional member of the wrong type: `iss`, `sub`, `client_id`, `token_type` strings; `aud` a string or string list. */
function wrongTypedMember (response: Claims): string | undefined {
  for (const name of ['iss', 'sub', 'client_id', 'token_type']) {
    const value = claim(response, name)
    if (value !== undefined && typeof value !== 'string') return name
  }
  const aud = claim(response, 'aud')
  if (aud !== undefined && typeof aud !== 'string' && !isStringList(aud)) return 'aud'
  return undefined
}

/** Audience, issuer and token type: undefined when they allow the token, else why not. */
function refusalOf (response: Claims, checks: ResponseChecks): string | undefined {
  const iss = claim(response, 'iss')
  if (iss !== undefined && iss !== checks.issuer) return IntrospectionRefusal.WrongIssuer
  const aud = claim(response, 'aud')
  if (aud === undefined) {
    if (checks.requireAudience) return IntrospectionRefusal.NoAudience
  } else if (![aud].flat().some((value) => checks.audiences.includes(String(value)))) {
    return IntrospectionRefusal.WrongAudience
  }
  const tokenType = claim(response, 'token_type')
  if (typeof tokenType === 'string' && tokenType.toLowerCase() !== 'bearer') return IntrospectionRefusal.WrongTokenType
  return undefined
}

/** The outcome an RFC 7662 response decides at `now` (seconds since the epoch). */
export function judgeResponse (response: Claims, checks: ResponseChecks, now: number): Judgement {
  if (claim(response, 'active') !== true) return refused(IntrospectionRefusal.Inactive)
  if (wrongTypedClaim(response, checks.permissionsClaim) !== undefined || wrongTypedMember(response) !== undefined) return refused(IntrospectionRefusal.ClaimType)
  const exp = claim(response, 'exp')
  if (typeof exp !== 'number') return refused(IntrospectionRefusal.NoExpiry)
  if (exp <= now) return { outcome: { ok: false, reason: 'token_expired', detail: IntrospectionRefusal.Expired } }
  const nbf = claim(response, 'nbf')
  if (typeof nbf === 'number' && nbf > now) return refused(IntrospectionRefusal.NotYetValid)
  const refusal = refusalOf(response, checks)
  if (refusal !== undefined) return refused(refusal)
  const sub = claim(response, 'sub')
  const clientId = claim(response, 'client_id')
  // A client-credentials token has no user: its client is the principal.
  const id = typeof sub === 'string' && sub !== '' ? sub : typeof clientId === 'string' && clientId !== '' ? clientId : undefined
  if (id === undefined) return refused(IntrospectionRefusal.NoSubject)
  const principal = frozenPrincipal({ id, strategy: 'introspection', permissions: permissionsFrom(response, checks.permissionsClaim), expiresAt: exp, claims: Object.freeze({ ...response }) })
  return { outcome: { ok: true, principal }, expiresIn: exp - now }
}
