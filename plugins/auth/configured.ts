import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Authenticator, DeploymentContext } from '../../core/authenticator.js'
import type { StrategyEntry } from '../../core/strategy.js'
import { registerStrategy, type AuthHookOptions } from './hook.js'
import type { z } from 'zod'
import { parseOptions } from '../../core/options.js'
import { authSectionSchema, chosenStrategies, strategies, type AuthSection } from './registry.js'

export interface ConfiguredAuthOptions {
  /** The `auth` section of a config file (validated again here, like every plugin's options). */
  auth: z.input<typeof authSectionSchema>
  context?: DeploymentContext
  /** Audit sink and failed-auth throttle for the hook. */
  hook?: AuthHookOptions
  /** `false`: no `onRequest` hook, only `fastify.mcpAuth` (see the strategy plugins). */
  addHook?: boolean
}

/** The strategy (or ordered list of strategies) the config file selects, as one `onRequest` hook. */
async function configuredAuthPlugin (fastify: FastifyInstance, { auth: section, context = {}, hook = {}, addHook }: ConfiguredAuthOptions): Promise<void> {
  const auth = parseOptions('configured-auth', authSectionSchema, section)
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
