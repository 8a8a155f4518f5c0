import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { accepted, invalid, type AuthOutcome, type Authenticator, type DeploymentContext, type FailureReason } from '../../core/authenticator.js'
import { parseOptions } from '../../core/options.js'
import type { Principal } from '../../core/principal.js'
import { CredentialCache } from '../credentials/credential-cache.js'
import { SingleFlight } from '../credentials/single-flight.js'
import { createBearerOutcomeReader } from './bearer.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { createIntrospectionClient } from './introspection-client.js'
import { IntrospectionRefusal, judgeResponse, type ResponseChecks } from './introspection-checks.js'
import { introspectionOptionsSchema, type IntrospectionOptions } from './introspection-options.js'
import { oauthBearerChallenge } from './oauth-challenge.js'

export { introspectionOptionsSchema, type IntrospectionOptions } from './introspection-options.js'

const unsupported: AuthOutcome = Object.freeze({ ok: false, reason: 'invalid_credentials', detail: IntrospectionRefusal.UnsupportedToken })

/**
 * Opaque access tokens in `Authorization: Bearer`, asked about at the authorization server's
 * introspection endpoint (RFC 7662). An accepted token's answer is reused until its `exp` or for
 * `maxCacheTtl`, whichever comes first, keyed by a hash of the token; concurrent requests with the
 * same token share one call. Refusals and errors are never cached. When the server cannot be
 * asked, the request fails closed (503). `now` (milliseconds) is for tests.
 */
export async function createIntrospectionAuthenticator (fastify: FastifyInstance, options: IntrospectionOptions, context: DeploymentContext = {}, now: () => number = Date.now): Promise<Authenticator> {
  const parsed = parseOptions('introspection', introspectionOptionsSchema, options)
  const introspect = createIntrospectionClient(parsed)
  const checks: ResponseChecks = { issuer: parsed.issuer, audiences: [parsed.audience].flat(), requireAudience: parsed.requireAudience, permissionsClaim: parsed.permissionsClaim }
  const cache = new CredentialCache<Principal>(parsed.maxCacheTtl, parsed.cacheSize, now)
  const flights = new SingleFlight<AuthOutcome>()

  async function introspected (token: string, key: string, request: FastifyRequest): Promise<AuthOutcome> {
    const answer = await introspect(token, request.log)
    if ('unsupported' in answer) return unsupported
    const { outcome, expiresIn } = judgeResponse(answer.response, checks, now() / 1000)
    if (outcome.ok && expiresIn !== undefined) cache.set(key, outcome.principal, expiresIn * 1000)
    return outcome
  }

  const read = await createBearerOutcomeReader(fastify, (token, request) => {
    if (token === '') return invalid
    // The token itself is never a key: the cache's salted SHA-256 of it is, for both maps.
    const key = cache.keyFor(token)
    const known = cache.get(key)
    return known === undefined ? flights.run(key, async () => await introspected(token, key, request)) : accepted(known)
  })

  return {
    strategy: 'introspection',
    challengeFamily: 'oauth-bearer',
    authenticate: read,
    challenge: (reason: FailureReason, request: FastifyRequest) => oauthBearerChallenge(parsed.realm, reason, request, context)
  }
}

/** Plugin options: the strategy's options, what it should say about the deployment in challenges, and (for tests) a clock. */
export type IntrospectionPluginOptions = IntrospectionOptions & StrategyRegistration & { deployment?: DeploymentContext, now?: () => number }

async function introspectionAuthStrategy (fastify: FastifyInstance, { deployment, addHook, audit, throttle, now, ...options }: IntrospectionPluginOptions): Promise<void> {
  registerStrategy(fastify, [await createIntrospectionAuthenticator(fastify, options, deployment, now)], { addHook, audit, throttle })
}

/** Opaque bearer tokens checked at an authorization server's introspection endpoint (RFC 7662). */
export const introspectionAuth = fp(introspectionAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-introspection' })
export default introspectionAuth
