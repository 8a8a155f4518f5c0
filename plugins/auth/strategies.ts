import type { z } from 'zod'
import { apiKeyOptionsSchema, createApiKeyAuthenticator } from './api-key.js'
import type { AuthenticatorFactory } from './authenticator.js'
import { basicOptionsSchema, createBasicAuthenticator } from './basic.js'
import { bearerOptionsSchema, createBearerAuthenticator } from './bearer.js'
import { createJwtAuthenticator, jwtOptionsSchema } from './jwt.js'
import { createNoneAuthenticator, noneOptionsSchema } from './none.js'

interface StrategyEntry<K extends string, S extends z.ZodType> {
  /** The section under `auth` in the config file that holds this strategy's options. */
  configKey: K
  schema: S
  /** Whether the strategy can run without a config section (it has defaults for everything). */
  sectionOptional: boolean
  create: AuthenticatorFactory<z.input<S>>
}

function entry<K extends string, S extends z.ZodType> (e: StrategyEntry<K, S>): StrategyEntry<K, S> {
  return e
}

/** Every strategy the config file can name. Adding a strategy adds one entry here. */
export const strategies = {
  'api-key': entry({ configKey: 'apiKey', schema: apiKeyOptionsSchema, sectionOptional: false, create: createApiKeyAuthenticator }),
  bearer: entry({ configKey: 'bearer', schema: bearerOptionsSchema, sectionOptional: false, create: createBearerAuthenticator }),
  basic: entry({ configKey: 'basic', schema: basicOptionsSchema, sectionOptional: false, create: createBasicAuthenticator }),
  jwt: entry({ configKey: 'jwt', schema: jwtOptionsSchema, sectionOptional: false, create: createJwtAuthenticator }),
  none: entry({ configKey: 'none', schema: noneOptionsSchema, sectionOptional: true, create: createNoneAuthenticator })
} as const

export type StrategyName = keyof typeof strategies
export const strategyNames = Object.keys(strategies) as [StrategyName, ...StrategyName[]]

type Registry = typeof strategies
export type StrategySections = {
  [N in StrategyName as Registry[N]['configKey']]: z.ZodOptional<Registry[N]['schema']>
}

export function strategySections (): StrategySections {
  const shape: Record<string, z.ZodType> = {}
  for (const { configKey, schema } of Object.values(strategies)) shape[configKey] = schema.optional()
  return shape as StrategySections
}
