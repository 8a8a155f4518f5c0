import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Authenticator, DeploymentContext } from '../../core/authenticator.js'
import type { StrategyEntry } from '../../core/strategy.js'
import { registerStrategy, type AuthHookOptions } from './hook.js'
import { chosenStrategies, strategies, type AuthSection } from './registry.js'

export interface ConfiguredAuthOptions {
  /** The `auth` section of the config file, validated (see `authSectionSchema`). */
  auth: AuthSection
  context?: DeploymentContext
  /** Audit sink and failed-auth throttle for the hook. */
  hook?: AuthHookOptions
  /** `false`: no `onRequest` hook, only `fastify.mcpAuth` (see the strategy plugins). */
  addHook?: boolean
}

/** The strategy (or ordered list of strategies) the config file selects, as one `onRequest` hook. */
async function configuredAuthPlugin (fastify: FastifyInstance, { auth, context = {}, hook = {}, addHook }: ConfiguredAuthOptions): Promise<void> {
  const authenticators: Authenticator[] = []
  for (const name of chosenStrategies(auth.strategy)) {
    // Each entry reads only its own section: the registry pairs them by configKey.
    const entry: StrategyEntry = strategies[name]
    const section: unknown = auth[entry.configKey as keyof AuthSection]
    authenticators.push(await entry.create(fastify, section ?? {}, context))
  }
  registerStrategy(fastify, authenticators, { ...hook, addHook })
}

export const configuredAuth = fp(configuredAuthPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-configured' })
export default configuredAuth
