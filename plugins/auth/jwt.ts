import fastifyJwt, { type JWT } from '@fastify/jwt'
import { createVerifier } from 'fast-jwt'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { accepted, invalid, missing, type AuthOutcome, type Authenticator, type DeploymentContext, type FailureReason } from '../../core/authenticator.js'
import { bearerChallenge } from '../../core/challenges.js'
import { createJwksKeySet } from './jwks.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { registerIsolated } from './isolated.js'
import { issuersOf, jwtOptionsSchema, verificationKeys, type JwtAlgorithm, type JwtOptions, type ParsedJwtOptions } from './jwt-options.js'
import { parseOptions } from '../../core/options.js'
import { isRecord, principalOf, type Claims } from './jwt-claims.js'
import type { Principal } from '../../core/principal.js'
import { JwtRefusal } from '../../core/errors.js'

export { jwtOptionsSchema, type JwtOptions } from './jwt-options.js'

const expired: AuthOutcome = Object.freeze({ ok: false, reason: 'token_expired' })
const revoked: AuthOutcome = Object.freeze({ ok: false, reason: 'token_revoked' })

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

function isJwt (value: unknown): value is JWT {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'verify') === 'function' && typeof Reflect.get(value, 'lookupToken') === 'function'
}

/**
 * @fastify/jwt, registered once per strategy for its `lookupToken` (the Authorization header's
 * bearer token); tokens are verified by the verifiers of their keys, never by it. Its namespace
 * is its own: the child context inherits a host app's `jwt` decorator, if any.
 */
async function registerTokenReader (fastify: FastifyInstance): Promise<JWT> {
  const namespace = `fastifyMcpAuth-${randomUUID()}`
  return await registerIsolated(fastify, {
    provides: `@fastify/jwt's namespace ${namespace}`,
    register: (child) => child.register(fastifyJwt, {
      namespace,
      secret: async () => { throw new Error('tokens are verified by the verifiers of their keys') }
    }),
    read: (child) => {
      // @fastify/jwt's types do not model namespaces: with one, `jwt` holds a JWT per namespace name.
      const jwt: unknown = Reflect.get(child.jwt, namespace)
      return isJwt(jwt) ? jwt : undefined
    }
  })
}

/** The token's JOSE header, read only to choose a key: the chosen verifier decodes the whole token strictly. */
function headerOf (token: string): Claims | undefined {
  const end = token.indexOf('.')
  if (end < 1) return undefined
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'))
    return isRecord(header) ? header : undefined
  } catch {
    return undefined
  }
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

function scopesFor (request: FastifyRequest, context: DeploymentContext): readonly string[] {
  const scopes = context.challengeScopes
  if (scopes === undefined) return []
  try {
    return scopes(request)
  } catch (error) {
    // A challenge must not fail: without scope= it is still a complete answer.
    request.log.error({ err: error }, 'challengeScopes failed; the challenge names no scope')
    return []
  }
}

const DESCRIPTIONS: Partial<Record<FailureReason, string>> = { token_expired: 'token expired', token_revoked: 'token revoked' }

function challengeFor (realm: string, reason: FailureReason, request: FastifyRequest, context: DeploymentContext): string {
  return bearerChallenge({
    realm,
    error: reason === 'missing_credentials' ? undefined : 'invalid_token',
    errorDescription: DESCRIPTIONS[reason],
    resourceMetadata: context.resourceMetadataUrl?.(request),
    scope: scopesFor(request, context)
  })
}

/** How one issuer's tokens are checked: its verifier for a token, and the principal for its claims. */
interface IssuerCheck {
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
  const [, payload] = token.split('.')
  if (payload === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    return isRecord(claims) && typeof claims.iss === 'string' ? claims.iss : undefined
  } catch {
    return undefined
  }
}

/** The check a token goes to: the only issuer's, or, with several issuers, the one its `iss` names (before any key lookup). */
function issuerRouter (log: FastifyBaseLogger, parsed: Parameters<typeof issuersOf>[0]): (token: string) => IssuerCheck | undefined {
  const checks = issuersOf(parsed).map((issuer) => issuerCheck(log, issuer))
  const [only] = checks
  if (parsed.issuers === undefined && only !== undefined) return () => only
  const byIssuer = new Map(checks.map((check) => [check.options.issuer, check]))
  return (token) => {
    const issuer = claimedIssuer(token)
    return issuer === undefined ? undefined : byIssuer.get(issuer)
  }
}

/**
 * Signed JWTs in `Authorization: Bearer`, verified by fast-jwt with pinned algorithms, required
 * `exp` and subject, optional `iss`/`aud` checks and a clock tolerance; keys from the config
 * (rotated by `kid`) or from an identity provider's JWKS; with `issuers`, several issuers, each
 * with its own keys, audience and claim mapping. Every claim the strategy reads must have its
 * registered type.
 */
export async function createJwtAuthenticator (fastify: FastifyInstance, options: JwtOptions, context: DeploymentContext = {}): Promise<Authenticator> {
  const parsed = parseOptions('jwt', jwtOptionsSchema, options)
  const route = issuerRouter(fastify.log, parsed)
  const reader = await registerTokenReader(fastify)

  function refuse (request: FastifyRequest, code: string | undefined, claimName?: string): AuthOutcome {
    request.log.debug({ event: 'auth', strategy: 'jwt', code, ...(claimName === undefined ? {} : { claim: claimName }) }, 'token refused')
    return code === 'FAST_JWT_EXPIRED' ? expired : invalid
  }

  async function authenticate (request: FastifyRequest): Promise<AuthOutcome> {
    let token: string
    try {
      token = reader.lookupToken(request)
    } catch (error) {
      return (error as { code?: string }).code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' ? missing : invalid
    }
    const check = route(token)
    if (check === undefined) return refuse(request, JwtRefusal.UnknownIssuer)
    let claims: Claims
    try {
      const verify = await check.select(token)
      if (verify === undefined) return refuse(request, JwtRefusal.NoKey)
      claims = verify(token)
    } catch (error) {
      return refuse(request, (error as { code?: string }).code)
    }
    const principal = check.principalFor(claims)
    if (typeof principal === 'string') return refuse(request, JwtRefusal.ClaimType, principal)
    // With maxAge, an iat in the future would stretch the age limit (maxAge makes iat required).
    if (check.options.maxAge !== undefined && Number(claims.iat) * 1000 > Date.now() + check.options.clockTolerance) return refuse(request, JwtRefusal.IatFuture)
    // Outside the try: a store that cannot answer is an error (503), not a refused token.
    if (context.isRevoked !== undefined && await context.isRevoked(claims)) return revoked
    return accepted(principal)
  }

  return {
    strategy: 'jwt',
    challengeFamily: 'oauth-bearer',
    authenticate,
    challenge: (reason: FailureReason, request: FastifyRequest) => challengeFor(parsed.realm, reason, request, context)
  }
}

/** Plugin options: the strategy's options, plus what it should say about the deployment in challenges. */
export type JwtPluginOptions = JwtOptions & StrategyRegistration & { deployment?: DeploymentContext }

async function jwtAuthStrategy (fastify: FastifyInstance, { deployment, addHook, ...options }: JwtPluginOptions): Promise<void> {
  registerStrategy(fastify, [await createJwtAuthenticator(fastify, options, deployment)], { addHook })
}

/** JWT bearer tokens (fast-jwt, the token read by @fastify/jwt); keys rotate through `keys[].kid`. */
export const jwtAuth = fp(jwtAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-jwt' })
export default jwtAuth
