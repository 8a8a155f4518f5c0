import fastifyJwt, { type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { accepted, invalid, missing, type AuthOutcome, type Authenticator, type DeploymentContext, type FailureReason } from '../../core/authenticator.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { oauthBearerChallenge } from './oauth-challenge.js'
import { registerIsolated } from './isolated.js'
import { jwtOptionsSchema, type JwtOptions } from './jwt-options.js'
import { issuerRouter } from './jwt-verifiers.js'
import { confirmsCertificate } from './client-certificate.js'
import { parseOptions } from '../../core/options.js'
import type { Claims } from './jwt-claims.js'
import { JwtRefusal } from '../../core/errors.js'

export { jwtOptionsSchema, type JwtOptions } from './jwt-options.js'

const expired: AuthOutcome = Object.freeze({ ok: false, reason: 'token_expired' })
const revoked: AuthOutcome = Object.freeze({ ok: false, reason: 'token_revoked' })

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
    if (!confirmsCertificate(claims.cnf, request)) return refuse(request, JwtRefusal.CertificateMismatch)
    // Outside the try: a store that cannot answer is an error (503), not a refused token.
    if (context.isRevoked !== undefined && await context.isRevoked(claims)) return revoked
    return accepted(principal)
  }

  return {
    strategy: 'jwt',
    challengeFamily: 'oauth-bearer',
    authenticate,
    challenge: (reason: FailureReason, request: FastifyRequest) => oauthBearerChallenge(parsed.realm, reason, request, context)
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
