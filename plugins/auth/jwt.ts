import fastifyJwt, { type FastifyJWTOptions, type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { accepted, invalid, missing, quote, type AuthOutcome, type Authenticator, type DeploymentContext, type FailureReason } from './authenticator.js'
import { createJwksKeyResolver } from './jwks.js'
import { addAuthHook } from './hook.js'
import { isHmac, jwtOptionsSchema, verificationKeys, type JwtOptions, type ParsedJwtOptions } from './jwt-options.js'
import { parseOptions } from './options.js'
import { frozenPrincipal, type Principal } from './principal.js'

export { jwtOptionsSchema, type JwtOptions } from './jwt-options.js'

const expired: AuthOutcome = Object.freeze({ ok: false, reason: 'token_expired' })
const revoked: AuthOutcome = Object.freeze({ ok: false, reason: 'token_revoked' })

/** Permissions from the configured claim (an array of strings) and from the OAuth `scope` string. */
export function permissionsFrom (claims: Record<string, unknown>, claim: string): string[] {
  const granted = new Set<string>()
  const listed = claims[claim]
  if (Array.isArray(listed)) for (const value of listed) if (typeof value === 'string' && value !== '') granted.add(value)
  if (typeof claims.scope === 'string') for (const value of claims.scope.split(' ')) if (value !== '') granted.add(value)
  return [...granted]
}

function principalFrom (claims: Record<string, unknown>, options: ParsedJwtOptions): Principal {
  return frozenPrincipal({
    id: String(claims.sub),
    strategy: 'jwt',
    permissions: permissionsFrom(claims, options.permissionsClaim),
    claims,
    ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp } : {})
  })
}

let namespaces = 0

type KeyResolver = ReturnType<typeof createJwksKeyResolver>

/**
 * One @fastify/jwt instance per key, each in a child context (so its decorators cannot clash with
 * a host app's), with a static key so fast-jwt's verifier and its cache apply. For a JWKS the
 * key is a function of the token header; fast-jwt calls it with the decoded token (we only use
 * the instance-level verify, never @fastify/jwt's request-level one, which passes the request).
 */
async function registerVerifier (fastify: FastifyInstance, key: string | KeyResolver, hmac: boolean, options: ParsedJwtOptions): Promise<JWT> {
  const namespace = `fastifyMcpAuth${++namespaces}`
  const secret: FastifyJWTOptions['secret'] = typeof key === 'string'
    ? (hmac ? key : { public: key }) // A public key alone puts @fastify/jwt in verify-only mode.
    : async (decoded: FastifyRequest | Parameters<KeyResolver>[0]) => await key(decoded as Parameters<KeyResolver>[0])
  let decorator: JWT | undefined
  await fastify.register(async function jwtVerifier (child) {
    await child.register(fastifyJwt, {
      secret,
      namespace,
      decode: { complete: true },
      verify: {
        algorithms: options.algorithms,
        ...(options.issuer === undefined ? {} : { allowedIss: options.issuer }),
        ...(options.audience === undefined ? {} : { allowedAud: options.audience }),
        clockTolerance: options.clockTolerance,
        ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge / 1000 }),
        // fast-jwt checks iss and aud only when present: a configured one must also be required.
        requiredClaims: ['exp', 'sub', ...(options.issuer === undefined ? [] : ['iss']), ...(options.audience === undefined ? [] : ['aud'])],
        cache: 1000
      }
    })
    // @fastify/jwt's types do not model namespaces: with one, `jwt` holds a JWT per namespace name.
    decorator = (child.jwt as unknown as Record<string, JWT>)[namespace]
  })
  if (decorator === undefined) throw new Error('@fastify/jwt did not register its namespace')
  return decorator
}

function challengeFor (realm: string, reason: FailureReason, request: FastifyRequest, context: DeploymentContext): string {
  const params = [`realm=${quote(realm)}`]
  if (reason !== 'missing_credentials') params.push('error="invalid_token"')
  if (reason === 'token_expired') params.push('error_description="token expired"')
  if (reason === 'token_revoked') params.push('error_description="token revoked"')
  if (context.resourceMetadataUrl !== undefined) params.push(`resource_metadata=${quote(context.resourceMetadataUrl(request))}`)
  if (context.challengeScopes !== undefined && context.challengeScopes.length > 0) params.push(`scope=${quote(context.challengeScopes.join(' '))}`)
  return `Bearer ${params.join(', ')}`
}

/**
 * Signed JWTs in `Authorization: Bearer`, verified by @fastify/jwt (fast-jwt) with pinned
 * algorithms, required `exp` and `sub`, optional `iss`/`aud` checks and a clock tolerance; keys
 * from the config (rotated by `kid`) or from an identity provider's JWKS.
 */
export async function createJwtAuthenticator (fastify: FastifyInstance, options: JwtOptions, context: DeploymentContext = {}): Promise<Authenticator> {
  const parsed = parseOptions('jwt', jwtOptionsSchema, options)
  const hmac = parsed.algorithms.every(isHmac)
  const verifiers = new Map<string | undefined, JWT>()
  if (parsed.jwksUrl !== undefined) {
    const resolver = createJwksKeyResolver({ jwksUrl: parsed.jwksUrl, cacheTtl: parsed.jwksCacheTtl, refetchInterval: parsed.jwksRefetchInterval })
    verifiers.set(undefined, await registerVerifier(fastify, resolver, false, parsed))
  } else {
    for (const key of verificationKeys(parsed)) verifiers.set(key.kid, await registerVerifier(fastify, key.key, hmac, parsed))
  }
  const first = verifiers.values().next().value as JWT
  const byKid = parsed.keys !== undefined

  function verifierFor (token: string): JWT | undefined {
    if (!byKid) return first
    const decoded = first.decode<{ header: { kid?: unknown } }>(token)
    const kid = decoded?.header.kid
    return typeof kid === 'string' ? verifiers.get(kid) : undefined
  }

  // fast-jwt's cache hands back the same claims object for a token it verified before (and only
  // while the token is valid), so the principal built from it can be reused too.
  const principals = new WeakMap<object, Principal>()
  function principalFor (claims: Record<string, unknown>): Principal {
    let principal = principals.get(claims)
    if (principal === undefined) {
      principal = principalFrom(claims, parsed)
      principals.set(claims, principal)
    }
    return principal
  }

  async function authenticate (request: FastifyRequest): Promise<AuthOutcome> {
    let token: string
    try {
      token = first.lookupToken(request)
    } catch (error) {
      return (error as { code?: string }).code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' ? missing : invalid
    }
    let claims: Record<string, unknown>
    try {
      const verifier = verifierFor(token)
      if (verifier === undefined) return invalid
      claims = await verifier.verify<Record<string, unknown>>(token)
    } catch (error) {
      const code = (error as { code?: string }).code
      request.log.debug({ event: 'auth', strategy: 'jwt', code }, 'token refused')
      return code === 'FAST_JWT_EXPIRED' ? expired : invalid
    }
    // Outside the try: a store that cannot answer is an error (503), not a refused token.
    if (context.isRevoked !== undefined && await context.isRevoked(claims)) return revoked
    return accepted(principalFor(claims))
  }

  return {
    strategy: 'jwt',
    authenticate,
    challenge: (reason: FailureReason, request: FastifyRequest) => challengeFor(parsed.realm, reason, request, context)
  }
}

/** Plugin options: the strategy's options, plus what it should say about the deployment in challenges. */
export type JwtPluginOptions = JwtOptions & { deployment?: DeploymentContext }

async function jwtAuthStrategy (fastify: FastifyInstance, { deployment, ...options }: JwtPluginOptions): Promise<void> {
  addAuthHook(fastify, [await createJwtAuthenticator(fastify, options, deployment)])
}

/** JWT bearer tokens verified with @fastify/jwt; keys rotate through `keys[].kid`. */
export const jwtAuth = fp(jwtAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-jwt' })
export default jwtAuth
