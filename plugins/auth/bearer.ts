import bearerAuthPlugin from '@fastify/bearer-auth'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, invalid, missing, type AuthOutcome, type Authenticator, type FailureReason } from '../../core/authenticator.js'
import { bearerChallenge } from '../../core/challenges.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { PerRequest, registerIsolated } from './isolated.js'
import { MIN_STATIC_SECRET_LENGTH, parseOptions, permissionsSchema } from '../../core/options.js'
import type { Principal } from '../../core/principal.js'
import { principalSecrets, sha256Field, uniqueIds } from './static-secrets.js'

const tokenSchema = z.strictObject({
  id: z.string().min(1),
  token: z.string().min(MIN_STATIC_SECRET_LENGTH).optional(),
  sha256: sha256Field('token'),
  permissions: permissionsSchema
}).refine((entry) => (entry.token === undefined) !== (entry.sha256 === undefined), {
  message: 'give exactly one of token, tokenFile or sha256'
})

export const bearerOptionsSchema = z.strictObject({
  realm: z.string().min(1).default('mcp'),
  tokens: z.array(tokenSchema).min(1, 'at least one token is required')
}).refine((options) => uniqueIds(options.tokens), {
  message: 'token ids must be unique', path: ['tokens']
})

export type BearerOptions = z.input<typeof bearerOptionsSchema>

type VerifyBearerAuth = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void

/** Reads `Authorization: Bearer <token>` and answers with the principal `match` finds for the token. */
export type BearerReader = (request: FastifyRequest, reply: FastifyReply) => Promise<AuthOutcome>

/**
 * @fastify/bearer-auth parses the Authorization header (scheme case-insensitive, RFC 6749 token
 * syntax); `match` decides. Shared by the bearer strategy and the api-key strategy's `acceptBearer`.
 */
export async function createBearerReader (fastify: FastifyInstance, match: (token: string) => Principal | undefined): Promise<BearerReader> {
  // What the auth callback found: it only answers yes or no to the library.
  const verdicts = new PerRequest<Principal | null>()
  const verifyBearer = await registerIsolated<VerifyBearerAuth>(fastify, {
    provides: "@fastify/bearer-auth's verifyBearerAuth",
    register: (child) => child.register(bearerAuthPlugin, {
      addHook: false,
      keys: [],
      specCompliance: 'rfc6749',
      verifyErrorLogLevel: 'debug',
      auth: (token: string, request: FastifyRequest) => {
        const principal = match(token)
        verdicts.set(request, principal ?? null)
        return principal !== undefined
      }
    }),
    read: (child) => child.verifyBearerAuth
  })
  return (request, reply) => new Promise<AuthOutcome>((resolve) => {
    const status = reply.statusCode
    verifyBearer(request, reply, (error) => {
      const verdict = verdicts.take(request)
      if (error === undefined && verdict) {
        resolve(accepted(verdict))
        return
      }
      // The library sets 401 on the reply; another strategy may still accept the request.
      reply.code(status)
      // No verdict means the header was absent or not a Bearer one: no bearer credentials sent.
      resolve(verdict === undefined ? missing : invalid)
    })
  })
}

/**
 * Static opaque bearer tokens (RFC 6750), matched in constant time against SHA-256 digests.
 */
export async function createBearerAuthenticator (fastify: FastifyInstance, options: BearerOptions): Promise<Authenticator> {
  const { realm, tokens } = parseOptions('bearer', bearerOptionsSchema, options)
  const secrets = principalSecrets('bearer', tokens.map((entry) => ({ ...entry, secret: entry.token })))
  const read = await createBearerReader(fastify, (token) => secrets.match(token))
  return {
    strategy: 'bearer',
    challengeFamily: 'oauth-bearer',
    authenticate: read,
    challenge: (reason: FailureReason) => bearerChallenge({ realm, error: reason === 'missing_credentials' ? undefined : 'invalid_token' })
  }
}

async function bearerAuthStrategy (fastify: FastifyInstance, { addHook, ...options }: BearerOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [await createBearerAuthenticator(fastify, options)], { addHook })
}

/** Static bearer tokens in `Authorization: Bearer <token>`, several live at once. */
export const bearerAuth = fp(bearerAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-bearer' })
export default bearerAuth
