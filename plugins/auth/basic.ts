import basicAuthPlugin from '@fastify/basic-auth'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { accepted, invalid, missing, quote, type AuthAttempt, type AuthOutcome, type Authenticator } from '../../core/authenticator.js'
import { MCP_AUTH_BUSY, MCP_AUTH_RATE_LIMITED } from '../../core/errors.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { PerRequest, registerIsolated } from './isolated.js'
import { HashedSecretVerifier } from '../credentials/hashed-secrets.js'
import { parseOptions, permissionsSchema } from '../../core/options.js'
import { parsePasswordHash } from '../credentials/password-hash.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'

const userSchema = z.strictObject({
  username: z.string().min(1).refine((name) => !name.includes(':'), 'a user name cannot contain ":" (RFC 7617)'),
  passwordHash: z.string().refine((hash) => parsePasswordHash(hash) !== undefined, 'expected the output of `fastify-mcp-auth hash-password`'),
  password: z.never({ error: 'plain passwords are refused: store passwordHash, the output of `fastify-mcp-auth hash-password`' }).optional(),
  permissions: permissionsSchema
})

export const basicOptionsSchema = z.strictObject({
  realm: z.string().min(1).default('mcp'),
  users: z.array(userSchema).min(1, 'at least one user is required'),
  /** How long a verified user name and password are remembered (0 turns the cache off). */
  cacheTtl: duration.default(60_000),
  cacheSize: z.number().int().nonnegative().default(1000),
  /** Password checks running at once, and waiting; past both a request gets 503. */
  kdfConcurrency: z.number().int().positive().default(2),
  kdfQueue: z.number().int().nonnegative().default(64)
}).refine((options) => new Set(options.users.map((u) => u.username.normalize('NFC'))).size === options.users.length, {
  message: 'user names must be unique', path: ['users']
})

export type BasicOptions = z.input<typeof basicOptionsSchema>

type BasicAuthVerify = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void

class InvalidCredentials extends Error {}

/**
 * HTTP Basic (RFC 7617) against scrypt hashes. @fastify/basic-auth parses and decodes the header
 * (UTF-8); this file decides. A verified name and password are cached for `cacheTtl` so a client
 * pays the KDF once; an unknown user costs a KDF run like a wrong password does.
 */
export async function createBasicAuthenticator (fastify: FastifyInstance, options: BasicOptions): Promise<Authenticator> {
  const parsed = parseOptions('basic', basicOptionsSchema, options)
  const users = new HashedSecretVerifier<Principal>(
    parsed.users.map((user) => [user.username, user.passwordHash, frozenPrincipal({ id: user.username, strategy: 'basic', permissions: [...user.permissions] })]),
    parsed
  )
  const verdicts = new PerRequest<Principal>()
  const attempts = new PerRequest<AuthAttempt>()

  async function validate (username: string, password: string, request: FastifyRequest): Promise<void> {
    const attempt = attempts.take(request)
    const principal = await users.verify(username, password, attempt === undefined ? undefined : async () => await attempt.beforeCostlyCheck(username.normalize('NFC')))
    if (principal === undefined) throw new InvalidCredentials()
    verdicts.set(request, principal)
  }

  const verifyBasic = await registerIsolated<BasicAuthVerify>(fastify, {
    provides: "@fastify/basic-auth's basicAuth",
    register: (child) => child.register(basicAuthPlugin, { validate, authenticate: false, utf8: true }),
    read: (child) => child.basicAuth
  })
  const challenge = `Basic realm=${quote(parsed.realm)}, charset="UTF-8"`

  return {
    strategy: 'basic',
    challengeFamily: 'http-basic',
    authenticate: (request, reply, attempt) => new Promise<AuthOutcome>((resolve, reject) => {
      if (attempt !== undefined) attempts.set(request, attempt)
      verifyBasic(request, reply, (error) => {
        const principal = verdicts.take(request)
        // Not taken when the header held no Basic credentials.
        attempts.take(request)
        if (error === undefined && principal !== undefined) {
          resolve(accepted(principal))
        } else if (error instanceof MCP_AUTH_BUSY) {
          reply.header('retry-after', '1')
          reject(error)
        } else if (error instanceof MCP_AUTH_RATE_LIMITED) {
          reject(error)
        } else {
          const header = request.headers.authorization
          // Not a Basic header at all: no Basic credentials were sent.
          resolve(header === undefined || !/^\s*basic\s/i.test(header) ? missing : invalid)
        }
      })
    }),
    challenge: () => challenge
  }
}

async function basicAuthStrategy (fastify: FastifyInstance, { addHook, ...options }: BasicOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [await createBasicAuthenticator(fastify, options)], { addHook })
}

/** HTTP Basic with scrypt password hashes, a verified-credential cache and bounded KDF work. */
export const basicAuth = fp(basicAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-basic' })
export default basicAuth
