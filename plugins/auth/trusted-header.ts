import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, invalid, missing, type Authenticator } from '../../core/authenticator.js'
import { quote } from '../../core/challenges.js'
import { parseOptions, permissionsSchema } from '../../core/options.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { proxyListSchema, proxyMatcher } from './proxy-list.js'

export const trustedHeaderOptionsSchema = z.strictObject({
  /** The header an identity-aware proxy sets to the user it authenticated. */
  header: z.string().regex(/^[A-Za-z0-9-]+$/, 'expected an HTTP header name').default('x-forwarded-user'),
  /** The proxies whose header is believed: addresses, CIDR ranges, or `loopback`/`linklocal`/`uniquelocal`. */
  proxies: proxyListSchema,
  /** The users the proxy may name, with their permissions. */
  users: z.array(z.strictObject({ id: z.string().min(1), permissions: permissionsSchema })).default([])
    .refine((users) => new Set(users.map((user) => user.id)).size === users.length, 'user ids must be unique'),
  /** Permissions of any other user the proxy names; unset: only the listed users are accepted. */
  defaultPermissions: permissionsSchema.optional(),
  realm: z.string().min(1).default('mcp')
}).refine((options) => options.users.length > 0 || options.defaultPermissions !== undefined, {
  message: 'give users, or defaultPermissions for any user the proxy names', path: ['users']
})

export type TrustedHeaderOptions = z.input<typeof trustedHeaderOptionsSchema>

/** A user name a proxy would send: printable, no separators that could join two names. */
const USER_NAME = /^[^\s,;\p{Cc}]{1,256}$/u

/**
 * The user an identity-aware proxy authenticated, from its header, believed only when the TCP
 * peer is a configured proxy: the socket's address, never X-Forwarded-For, which any client can
 * write. From anyone else the header is refused and the attempt logged.
 */
export function createTrustedHeaderAuthenticator (_fastify: FastifyInstance | undefined, options: TrustedHeaderOptions): Authenticator {
  const parsed = parseOptions('trusted-header', trustedHeaderOptionsSchema, options)
  const header = parsed.header.toLowerCase()
  const trusted = proxyMatcher(parsed.proxies)
  const users = new Map(parsed.users.map((user) => [user.id, frozenPrincipal({ id: user.id, strategy: 'trusted-header', permissions: [...user.permissions] })]))
  const defaultPermissions = parsed.defaultPermissions
  const principalFor = (id: string): Principal | undefined =>
    users.get(id) ?? (defaultPermissions === undefined ? undefined : frozenPrincipal({ id, strategy: 'trusted-header', permissions: [...defaultPermissions] }))
  const challenge = `TrustedHeader realm=${quote(parsed.realm)}, header=${quote(header)}`

  return {
    strategy: 'trusted-header',
    challengeFamily: 'custom',
    credentialHeaders: [header],
    authenticate (request: FastifyRequest) {
      const user = request.headers[header]
      if (user === undefined || user === '') return missing
      const peer = request.socket?.remoteAddress
      if (peer === undefined || !trusted(peer)) {
        request.log.warn({ event: 'auth', strategy: 'trusted-header', reason: 'untrusted_peer', peer }, `${header} sent by an address that is not a configured proxy: refused`)
        return invalid
      }
      if (typeof user !== 'string' || !USER_NAME.test(user)) return invalid
      const principal = principalFor(user)
      return principal === undefined ? invalid : accepted(principal)
    },
    challenge: () => challenge
  }
}

async function trustedHeaderAuthPlugin (fastify: FastifyInstance, { addHook, ...options }: TrustedHeaderOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [createTrustedHeaderAuthenticator(fastify, options)], { addHook })
}

/** The user an identity-aware proxy authenticated, from a header only the configured proxies may set. */
export const trustedHeaderAuth = fp(trustedHeaderAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-trusted-header' })
export default trustedHeaderAuth
