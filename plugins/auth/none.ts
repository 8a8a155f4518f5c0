import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { accepted, OPEN_ACCESS, type Authenticator } from '../../core/authenticator.js'
import { registerStrategy, type StrategyRegistration } from './hook.js'
import { parseOptions, permissionsSchema } from '../../core/options.js'
import { frozenPrincipal } from '../../core/principal.js'
import { MCP_AUTH_NOT_LOOPBACK } from '../../core/errors.js'
import { isLoopbackAddress } from '../origin-host.js'

export const noneOptionsSchema = z.strictObject({
  permissions: permissionsSchema.default(['*'])
})

export type NoneOptions = z.input<typeof noneOptionsSchema>

/**
 * No authentication: every request acts as `anonymous`. For local development on loopback only:
 * a connection that did not arrive on a loopback address is refused (403), whatever address the
 * app listens on.
 */
export function createNoneAuthenticator (_fastify: FastifyInstance | undefined, options: NoneOptions = {}): Authenticator {
  const { permissions } = parseOptions('none', noneOptionsSchema, options)
  const anonymous = frozenPrincipal({ id: 'anonymous', strategy: 'none', permissions: [...permissions] })
  return {
    strategy: 'none',
    challengeFamily: 'custom',
    authenticate: (request) => {
      const local = request.socket?.localAddress
      if (local !== undefined && !isLoopbackAddress(local)) throw new MCP_AUTH_NOT_LOOPBACK()
      return accepted(anonymous)
    },
    challenge: () => ''
  }
}

async function noneAuthPlugin (fastify: FastifyInstance, { addHook, ...options }: NoneOptions & StrategyRegistration): Promise<void> {
  registerStrategy(fastify, [createNoneAuthenticator(fastify, options)], { addHook })
  // The MCP routes take this as the signal to accept no cross-origin page by default.
  if (!fastify.hasDecorator(OPEN_ACCESS)) fastify.decorate(OPEN_ACCESS, true)
  fastify.addHook('onListen', function refuseRemote (done) {
    if (this.addresses().some((address) => typeof address !== 'string' && !isLoopbackAddress(address.address))) {
      this.log.error('SECURITY: authentication is off (strategy none) and the app listens on a non-loopback address: requests from other machines get 403; bind 127.0.0.1')
    }
    done()
  })
}

export const noneAuth = fp(noneAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-none' })
export default noneAuth
