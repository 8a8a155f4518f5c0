import { z } from 'zod'
import { duration } from './duration.js'
import { strategies, strategyNames, strategySections, type StrategyName } from '../plugins/auth/strategies.js'

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i

export function isLoopback (host: string): boolean {
  return LOOPBACK.test(host)
}

const strategyName = z.enum(strategyNames)

const authSchema = z.strictObject({
  strategy: z.union([strategyName, z.array(strategyName).min(1)]).default('api-key'),
  ...strategySections()
}).superRefine((auth, ctx) => {
  for (const name of chosenStrategies(auth.strategy)) {
    const { configKey, sectionOptional } = strategies[name]
    if (!sectionOptional && auth[configKey] === undefined) {
      ctx.addIssue({ code: 'custom', path: [configKey], message: `strategy ${name} is selected but auth.${configKey} is missing` })
    }
  }
})

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The URL clients use to reach this server, when it differs from host:port (behind a proxy). */
  publicUrl: z.url().optional()
})

const mcpSchema = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'expected a path starting with /').default('/mcp'),
  sessions: z.enum(['stateless', 'stateful']).default('stateless'),
  sessionIdleTimeout: duration.default(10 * 60_000),
  maxSessions: z.coerce.number().int().positive().default(1000),
  /** The permission a tool requires, where it is not `calculator:<tool>`: { power: "calculator:advanced" }. */
  toolPermissions: z.record(z.string(), z.string().min(1)).default({}),
  /** Serve plain tools/call requests on the fast path (true) or only through the SDK's Protocol. */
  fastToolCalls: z.boolean().default(true),
  /** Host header values accepted; default: loopback names when bound to loopback, otherwise any. */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** Origin header values accepted when one is sent; default: loopback origins when bound to loopback. */
  allowedOrigins: z.array(z.string().min(1)).optional()
})

const storeSchema = z.strictObject({
  /** Redis for refresh tokens and revocations shared by every instance; unset or empty: this process's memory. */
  redisUrl: z.string().optional().transform((url) => url === '' ? undefined : url),
  keyPrefix: z.string().default('fastify-mcp-auth:')
})

const loggerSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
})

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  auth: authSchema,
  mcp: mcpSchema.prefault({}),
  store: storeSchema.prefault({}),
  logger: loggerSchema.prefault({})
}).superRefine((config, ctx) => {
  if (chosenStrategies(config.auth.strategy).includes('none') && !isLoopback(config.server.host)) {
    ctx.addIssue({
      code: 'custom',
      path: ['auth', 'strategy'],
      message: `strategy none (no authentication) is refused when binding ${config.server.host}; bind a loopback address such as 127.0.0.1`
    })
  }
})

/** The validated configuration, as the app receives it. */
export type Config = z.output<typeof configSchema>
/** The configuration as it may be written (defaults omitted). */
export { duration }
export type ConfigInput = z.input<typeof configSchema>

export function chosenStrategies (strategy: StrategyName | StrategyName[]): StrategyName[] {
  return Array.isArray(strategy) ? strategy : [strategy]
}
