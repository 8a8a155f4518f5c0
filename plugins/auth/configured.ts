import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config/schema.js'
import { chosenStrategies } from '../../config/schema.js'
import type { Authenticator } from './authenticator.js'
import { addAuthHook } from './hook.js'
import { strategies, type StrategyName } from './strategies.js'

function authenticatorFor (name: StrategyName, auth: Config['auth']): Authenticator {
  const { configKey, create } = strategies[name]
  // Each entry's create() takes the options of its own section; the registry pairs them.
  return (create as (options: unknown) => Authenticator)(auth[configKey] ?? {})
}

/** The strategy (or ordered list of strategies) the config file selects, as one `onRequest` hook. */
async function configuredAuthPlugin (fastify: FastifyInstance, auth: Config['auth']): Promise<void> {
  addAuthHook(fastify, chosenStrategies(auth.strategy).map((name) => authenticatorFor(name, auth)))
}

export const configuredAuth = fp(configuredAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-configured' })
export default configuredAuth
