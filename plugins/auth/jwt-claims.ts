import { frozenPrincipal, type Principal } from '../../core/principal.js'
import type { ParsedJwtOptions } from './jwt-options.js'

// What the jwt strategy reads from verified claims: every claim it uses has its type checked.

export type Claims = Record<string, unknown>

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A claim as the token carries it: own properties only, so `constructor` or `toString` are never read from the prototype. */
export function claim (claims: Claims, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined
}

/** Permissions from the configured claim (an array of strings) and from the OAuth `scope` string. */
export function permissionsFrom (claims: Claims, permissionsClaim: string): string[] {
  const granted = new Set<string>()
  const listed = claim(claims, permissionsClaim)
  if (Array.isArray(listed)) for (const value of listed) if (typeof value === 'string' && value !== '') granted.add(value)
  const scope = claim(claims, 'scope')
  if (typeof scope === 'string') for (const value of scope.split(' ')) if (value !== '') granted.add(value)
  return [...granted]
}

const NUMERIC_DATES = ['exp', 'nbf', 'iat']
const STRINGS = ['scope', 'fam', 'jti']

/**
 * The first claim this strategy reads (besides `sub`) whose type is wrong, if any. A permission
 * list with one non-string element is refused whole rather than filtered: the issuer meant
 * something this server cannot tell, and granting the rest would guess.
 */
export function wrongTypedClaim (claims: Claims, permissionsClaim: string): string | undefined {
  for (const name of NUMERIC_DATES) {
    const value = claim(claims, name)
    // JSON numbers such as 1e400 parse to Infinity, which fast-jwt would take as "never expires".
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) return name
  }
  for (const name of STRINGS) {
    const value = claim(claims, name)
    if (value !== undefined && typeof value !== 'string') return name
  }
  // Configured as `scope`, the claim is the OAuth scope string, checked above.
  if (permissionsClaim === 'scope') return undefined
  const listed = claim(claims, permissionsClaim)
  if (listed !== undefined && !(Array.isArray(listed) && listed.every((value) => typeof value === 'string'))) return permissionsClaim
  return undefined
}

/** The principal for verified claims, or the name of the claim whose type refuses them (never coerced). */
export function principalOf (claims: Claims, options: ParsedJwtOptions): Principal | string {
  const sub = claim(claims, options.subjectClaim)
  if (typeof sub !== 'string' || sub === '') return options.subjectClaim
  const wrong = wrongTypedClaim(claims, options.permissionsClaim)
  if (wrong !== undefined) return wrong
  const exp = claim(claims, 'exp')
  return frozenPrincipal({
    id: sub,
    strategy: 'jwt',
    permissions: permissionsFrom(claims, options.permissionsClaim),
    claims,
    ...(typeof exp === 'number' ? { expiresAt: exp } : {})
  })
}
