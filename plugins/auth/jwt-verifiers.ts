import { createVerifier } from 'fast-jwt'
import type { FastifyBaseLogger } from 'fastify'
import type { Principal } from '../../core/principal.js'
import { createJwksKeySet } from './jwks.js'
import { isRecord, principalOf, type Claims } from './jwt-claims.js'
import { issuersOf, verificationKeys, type JwtAlgorithm, type ParsedJwtOptions } from './jwt-options.js'

// How a token finds what verifies it: its issuer (by the `iss` it claims, with several issuers),
// then that issuer's key (the configured one, the one its `kid` names, or the JWKS key).

type Verify = (token: string) => Claims
type VerifierFor = (key: string, algorithms: readonly JwtAlgorithm[]) => Verify

/**
 * fast-jwt's verifier for one key, an HMAC secret or a PEM public key, used only with the given
 * algorithms: required claims, issuer and audience, clock tolerance, maxAge, and a cache of
 * verified tokens. The same for configured keys and for a JWKS's keys.
 */
function verifierFor (options: ParsedJwtOptions): VerifierFor {
  const verifyOptions = {
    ...(options.issuer === undefined ? {} : { allowedIss: options.issuer }),
    ...(options.audience === undefined ? {} : { allowedAud: options.audience }),
    clockTolerance: options.clockTolerance,
    ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
    // fast-jwt checks iss, aud and (with maxAge) iat only when present: configured, they are required.
    requiredClaims: [
      'exp',
      options.subjectClaim,
      ...(options.maxAge === undefined ? [] : ['iat']),
      ...(options.issuer === undefined ? [] : ['iss']),
      ...(options.audience === undefined ? [] : ['aud'])
    ],
    cache: 1000
  }
  return (key, algorithms) => createVerifier({ ...verifyOptions, key, algorithms: [...algorithms] })
}

/**
 * One part of a token (0: the JOSE header, 1: the claims) as an object, read unverified: only to
 * choose an issuer or a key; the chosen verifier then decodes the whole token strictly.
 */
function unverifiedPart (token: string, index: 0 | 1): Claims | undefined {
  const part = token.split('.', 2)[index]
  if (part === undefined || part === '') return undefined
  try {
    const decoded: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return isRecord(decoded) ? decoded : undefined
  } catch {
    return undefined
  }
}

function headerOf (token: string): Claims | undefined {
  return unverifiedPart(token, 0)
}

type SelectVerifier = (token: string) => Verify | undefined | Promise<Verify | undefined>

/** The identity provider's published key the token's `kid` names, used only with that key's own algorithm. */
function jwksVerifiers (log: FastifyBaseLogger, options: ParsedJwtOptions, jwksUrl: string): SelectVerifier {
  const keySet = createJwksKeySet<Verify>({
    jwksUrl,
    algorithms: options.algorithms,
    cacheTtl: options.jwksCacheTtl,
    refetchInterval: options.jwksRefetchInterval,
    verifierFor: verifierFor(options),
    onFetchFailed: (reason) => log.warn({ event: 'jwks', reason }, 'the JWKS could not be fetched: the keys fetched before stay in use')
  })
  return (token) => {
    const header = headerOf(token)
    return header === undefined ? undefined : keySet.resolve(header.kid, header.alg)
  }
}

/** The one configured key, for every token; or, with `keys`, the one the token's `kid` names. */
function configuredVerifiers (options: ParsedJwtOptions): SelectVerifier {
  const verifier = verifierFor(options)
  const byKid = new Map(verificationKeys(options).map((key) => [key.kid, verifier(key.key, options.algorithms)]))
  const only = byKid.get(undefined)
  if (only !== undefined) return () => only
  return (token) => {
    const kid = headerOf(token)?.kid
    return typeof kid === 'string' ? byKid.get(kid) : undefined
  }
}

/** How one issuer's tokens are checked: its verifier for a token, and the principal for its claims. */
export interface IssuerCheck {
  select: SelectVerifier
  principalFor: (claims: Claims) => Principal | string
  options: ParsedJwtOptions
}

function issuerCheck (log: FastifyBaseLogger, options: ParsedJwtOptions): IssuerCheck {
  // fast-jwt's cache hands back the same claims object for a token it verified before (and only
  // while the token is valid), so the type checks and the principal are done once per token.
  const principals = new WeakMap<object, Principal | string>()
  return {
    select: options.jwksUrl === undefined ? configuredVerifiers(options) : jwksVerifiers(log, options, options.jwksUrl),
    principalFor: (claims) => {
      let principal = principals.get(claims)
      if (principal === undefined) {
        principal = principalOf(claims, options)
        principals.set(claims, principal)
      }
      return principal
    },
    options
  }
}

/** The `iss` a token claims, read unverified and only to route it to that issuer's keys. */
function claimedIssuer (token: string): string | undefined {
  const iss = unverifiedPart(token, 1)?.iss
  return typeof iss === 'string' ? iss : undefined
}

/** The check a token goes to: the only issuer's, or, with several issuers, the one its `iss` names (before any key lookup). */
export function issuerRouter (log: FastifyBaseLogger, parsed: Parameters<typeof issuersOf>[0]): (token: string) => IssuerCheck | undefined {
  const checks = issuersOf(parsed).map((issuer) => issuerCheck(log, issuer))
  const [only] = checks
  if (parsed.issuers === undefined && only !== undefined) return () => only
  const byIssuer = new Map(checks.map((check) => [check.options.issuer, check]))
  return (token) => {
    const issuer = claimedIssuer(token)
    return issuer === undefined ? undefined : byIssuer.get(issuer)
  }
}
