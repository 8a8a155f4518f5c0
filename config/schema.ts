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

const tlsSchema = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** Refused: nothing checks client certificates yet, and an ignored CA would look like protection. */
  caFile: z.string().optional().refine((value) => value === undefined, {
    message: 'client certificates are not checked by any strategy yet: remove server.tls.caFile (it would be ignored)'
  })
})

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The URL clients use to reach this server, when it differs from host:port (behind a proxy). */
  publicUrl: z.url().optional(),
  /** HTTPS in-process. */
  tls: tlsSchema.optional(),
  /** Trust X-Forwarded-* from a proxy: true, a hop count, or the proxies' addresses. Off by default. */
  trustProxy: z.union([z.boolean(), z.number().int().nonnegative(), z.string(), z.array(z.string())]).default(false),
  /** Largest request body, in bytes (413 beyond). */
  bodyLimit: z.coerce.number().int().positive().default(1024 * 1024),
  /** Largest request head, in bytes (431 beyond). */
  maxHeaderSize: z.coerce.number().int().positive().default(16 * 1024),
  /** Time to receive a whole request (408 beyond); 0 turns it off. */
  requestTimeout: duration.default(30_000),
  /** Time a connection may stay open without a request on it. */
  keepAliveTimeout: duration.default(72_000),
  /** Time a socket may sit idle mid-request before it is closed (stops slow-body attacks); 0 turns it off. */
  connectionTimeout: duration.default(60_000),
  /** Time to wait for in-flight requests at shutdown before closing anyway. */
  shutdownTimeout: duration.default(10_000)
})

const limitSchema = z.strictObject({
  max: z.coerce.number().int().positive(),
  timeWindow: duration
})

const rateLimitSchema = z.strictObject({
  /** Requests per principal per timeWindow; unset: no per-principal limit. */
  max: z.coerce.number().int().positive().optional(),
  timeWindow: duration.default(60_000),
  /** Per principal and tool: { power: { max: 10, timeWindow: 1m } }. */
  tools: z.record(z.string(), limitSchema).default({}),
  /** Failed authentications per client address; false turns the throttle off. */
  failedAuth: z.union([limitSchema, z.literal(false)]).default({ max: 10, timeWindow: 60_000 }),
  /** Share every counter across instances; unset or empty: this process's memory. */
  redisUrl: z.string().optional().transform((url) => url === '' ? undefined : url)
})

const auditSchema = z.strictObject({
  /** On by default; off only where the throughput matters more than the record (see the benchmark). */
  enabled: z.boolean().default(true),
  /** Write audit events to this file (JSON lines) instead of the logger. */
  file: z.string().min(1).optional(),
  /** Put tool arguments in tool events. */
  includeArguments: z.boolean().default(false)
})

const metricsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  path: z.string().regex(/^\//).default('/metrics'),
  /** Serve metrics on their own port (on `host`) instead of the main server. */
  port: z.coerce.number().int().min(0).max(65535).optional(),
  host: z.string().min(1).default('127.0.0.1'),
  /** Require `Authorization: Bearer <key>`. Also keyFile / sha256. */
  key: z.string().min(16).optional(),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional()
})

const mcpSchema = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'expected a path starting with /').default('/mcp'),
  sessions: z.enum(['stateless', 'stateful']).default('stateless'),
  sessionIdleTimeout: duration.default(10 * 60_000),
  maxSessions: z.coerce.number().int().positive().default(1000),
  /** Most sessions one principal may hold at once (503 for that principal only beyond). */
  maxSessionsPerPrincipal: z.coerce.number().int().positive().default(50),
  /** The permission a tool requires, where it is not `calculator:<tool>`: { power: "calculator:advanced" }. */
  toolPermissions: z.record(z.string(), z.string().min(1)).default({}),
  /** Broader scopes and the narrower ones each implies: { "calculator:admin": ["calculator:write"] }. */
  scopeHierarchy: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
  /** Most messages in one JSON-RPC batch (400 beyond). */
  maxBatchSize: z.coerce.number().int().positive().default(100),
  /** Serve plain tools/call requests on the fast path (true) or only through the SDK's Protocol. */
  fastToolCalls: z.boolean().default(true),
  /** Host header values accepted (`*`: any); default: loopback names when bound to loopback, else the publicUrl host. */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** Origin header values accepted when one is sent; default: loopback origins when bound to loopback, and the publicUrl origin. */
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
  rateLimit: rateLimitSchema.prefault({}),
  audit: auditSchema.prefault({}),
  metrics: metricsSchema.prefault({}),
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
