import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, type Authenticator } from './authenticator.js'
import { addAuthHook } from './hook.js'
import { parseOptions, permissionsSchema } from './options.js'
import { frozenPrincipal } from './principal.js'

export const noneOptionsSchema = z.strictObject({
  permissions: permissionsSchema.default(['*'])
})

export type NoneOptions = z.input<typeof noneOptionsSchema>

/** No authentication: every request acts as `anonymous`. For local development on loopback only. */
export function createNoneAuthenticator (_fastify: FastifyInstance | undefined, options: NoneOptions = {}): Authenticator {
  const { permissions } = parseOptions('none', noneOptionsSchema, options)
  const anonymous = frozenPrincipal({ id: 'anonymous', strategy: 'none', permissions: [...permissions] })
  return {
    strategy: 'none',
    authenticate: () => accepted(anonymous),
    challenge: () => ''
  }
}

async function noneAuthPlugin (fastify: FastifyInstance, options: NoneOptions): Promise<void> {
  addAuthHook(fastify, [createNoneAuthenticator(fastify, options)])
}

export const noneAuth = fp(noneAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-none' })
export default noneAuth
