import { z } from 'zod'
import { loadConfigFileWith, parseConfigWith, type ConfigFormat, type LoadOptions } from './config/load.js'
import { composeConfigSchema, isLoopback, type ServerSection } from './config/schema.js'
import { auditOptionsSchema } from './plugins/audit-log.js'
import { authSectionSchema, type AuthSection, clientCertificateReaders, clientCertificateStrategyNames, openAccessAuth, openAccessStrategy, secretFieldNames } from './plugins/auth/registry.js'
import { rateLimitOptionsSchema } from './plugins/rate-limits.js'
import { tokenStoreOptionsSchema } from './plugins/token-store/index.js'
import { mcpSectionSchema } from './routes/mcp-options.js'
import { metricsSectionSchema } from './routes/metrics.js'

// A deployment's config file: each section is the option schema of the plugin it configures.

export const configSchema = composeConfigSchema({
  auth: authSectionSchema,
  mcp: mcpSectionSchema.prefault({}),
  store: tokenStoreOptionsSchema.prefault({}),
  rateLimit: rateLimitOptionsSchema.prefault({}),
  audit: auditOptionsSchema.prefault({}),
  metrics: metricsSectionSchema.prefault({})
}).superRefine((config, ctx) => {
  const open = openAccessStrategy(config.auth)
  if (open !== undefined && !isLoopback(config.server.host)) {
    ctx.addIssue({
      code: 'custom',
      path: ['auth', 'strategy'],
      message: `strategy ${open} (no authentication) is refused when binding ${config.server.host}; bind a loopback address such as 127.0.0.1`
    })
  }
  checkClientCertificates(config, ctx)
})

/** A CA that nothing checks would look like protection; a strategy that needs certificates needs the CA to ask for them. */
function checkClientCertificates (config: { server: ServerSection, auth: AuthSection }, ctx: z.RefinementCtx): void {
  const readers = clientCertificateReaders(config.auth)
  if (config.server.tls?.caFile !== undefined && readers.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'tls', 'caFile'],
      message: `client certificates would be requested but no chosen strategy checks them: choose ${clientCertificateStrategyNames().join(' or ')}, or remove caFile`
    })
  }
  for (const { name } of readers.filter((reader) => reader.required)) {
    if (config.server.tls?.caFile !== undefined) continue
    ctx.addIssue({
      code: 'custom',
      path: ['auth', 'strategy'],
      message: `strategy ${name} reads client certificates from the TLS handshake as configured: set server.tls (certFile, keyFile and caFile, the CA that issues them)`
    })
  }
}

/** The validated configuration, as the app receives it. */
export type Config = z.output<typeof configSchema>
/** The configuration as it may be written (defaults omitted). */
export type ConfigInput = z.input<typeof configSchema>

export const configFormat: ConfigFormat<Config> = {
  schema: configSchema,
  secretSections: ['auth', 'store', 'rateLimit', 'metrics'],
  secretFields: [...secretFieldNames(), 'redisUrl', 'key'], // store/rateLimit.redisUrl, metrics.key
  openAccessAuth
}

/** Reads, interpolates and validates a YAML or JSON config file; throws ConfigError listing every problem. */
export function loadConfigFile (file: string, options: LoadOptions = {}): Config {
  return loadConfigFileWith(configFormat, file, options)
}

/** Validates a config given as an object (interpolation, `*File` secrets and HOST/PORT included). */
export function parseConfig (raw: unknown, options: LoadOptions & { source?: string, baseDir?: string } = {}): Config {
  return parseConfigWith(configFormat, raw, options)
}
