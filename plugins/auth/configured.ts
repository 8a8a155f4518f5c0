import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../../config/schema.js'
import { chosenStrategies } from '../../config/schema.js'
import type { Authenticator, AuthenticatorFactory, DeploymentContext } from './authenticator.js'
import { addAuthHook, type AuthHookOptions } from './hook.js'
import { strategies, type StrategyName } from './strategies.js'

async function authenticatorFor (fastify: FastifyInstance, name: StrategyName, auth: Config['auth'], context: DeploymentContext): Promise<Authenticator> {
  const { configKey, create } = strategies[name]
  // Each entry's create() takes the options of its own section; the registry pairs them.
  return await (create as AuthenticatorFactory<unknown>)(fastify, auth[configKey] ?? {}, context)
}

export interface ConfiguredAuthOptions {
  auth: Config['auth']
  context?: DeploymentContext
  /** Audit sink and failed-auth throttle for the hook. */
  hook?: AuthHookOptions
}

/** The strategy (or ordered list of strategies) the config file selects, as one `onRequest` hook. */
async function configuredAuthPlugin (fastify: FastifyInstance, { auth, context = {}, hook = {} }: ConfiguredAuthOptions): Promise<void> {
  const authenticators: Authenticator[] = []
  for (const name of chosenStrategies(auth.strategy)) authenticators.push(await authenticatorFor(fastify, name, auth, context))
  addAuthHook(fastify, authenticators, hook)
}

export const configuredAuth = fp(configuredAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-configured' })
export default configuredAuth
