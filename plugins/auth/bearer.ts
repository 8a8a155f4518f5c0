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

/** What a strategy concludes about a bearer token: an outcome, at once or later; a rejection is an error of the server's (a 503), not a refusal. */
export type BearerJudge = (token: string, request: FastifyRequest) => AuthOutcome | Promise<AuthOutcome>

/** What the library's callback concluded for a request: the outcome, or the error the judge failed with. */
type Verdict = { outcome: AuthOutcome } | { error: Error }

/**
 * @fastify/bearer-auth parses the Authorization header (scheme case-insensitive, RFC 6749 token
 * syntax); `judge` decides, synchronously or not. Shared by the bearer, api-key (`acceptBearer`)
 * and introspection strategies.
 */
export async function createBearerOutcomeReader (fastify: FastifyInstance, judge: BearerJudge): Promise<BearerReader> {
  // What the auth callback found: it only answers yes or no to the library.
  const verdicts = new PerRequest<Verdict>()
  const settle = (request: FastifyRequest, outcome: AuthOutcome): boolean => {
    verdicts.set(request, { outcome })
    return outcome.ok
  }
  const fail = (request: FastifyRequest, error: unknown): false => {
    verdicts.set(request, { error: error instanceof Error ? error : new Error(String(error)) })
    return false
  }
  const verifyBearer = await registerIsolated<VerifyBearerAuth>(fastify, {
    provides: "@fastify/bearer-auth's verifyBearerAuth",
    register: (child) => child.register(bearerAuthPlugin, {
      addHook: false,
      keys: [],
      specCompliance: 'rfc6749',
      verifyErrorLogLevel: 'debug',
      auth: (token: string, request: FastifyRequest) => {
        let judged: AuthOutcome | Promise<AuthOutcome>
        try {
          judged = judge(token, request)
        } catch (error) {
          return fail(request, error)
        }
        if (!(judged instanceof Promise)) return settle(request, judged)
        return judged.then((outcome) => settle(request, outcome), (error: unknown) => fail(request, error))
      }
    }),
    read: (child) => child.verifyBearerAuth
  })
  return (request, reply) => new Promise<AuthOutcome>((resolve, reject) => {
    const status = reply.statusCode
    verifyBearer(request, reply, () => {
      const verdict = verdicts.take(request)
      // The library sets 401 on a refusal; another strategy may still accept the request.
      if (verdict === undefined || !('outcome' in verdict) || !verdict.outcome.ok) reply.code(status)
      if (verdict !== undefined && 'error' in verdict) reject(verdict.error)
      // No verdict means the header was absent or not a Bearer one: no bearer credentials sent.
      else resolve(verdict === undefined ? missing : verdict.outcome)
    })
  })
}

/** A bearer reader for strategies that find a token's principal at once: the principal, or invalid credentials. */
export async function createBearerReader (fastify: FastifyInstance, match: (token: string) => Principal | undefined): Promise<BearerReader> {
  return await createBearerOutcomeReader(fastify, (token) => {
    const principal = match(token)
    return principal === undefined ? invalid : accepted(principal)
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
