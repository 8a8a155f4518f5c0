import { STATUS_CODES } from 'node:http'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { chosenStrategies, isLoopback, type Config } from './config/schema.js'
import { configuredAuth } from './plugins/auth/configured.js'
import { LOOPBACK_HOSTS, LOOPBACK_ORIGINS } from './plugins/origin-host.js'
import healthRoutes from './routes/health.js'
import { mcpRoutes, type McpRoutesOptions } from './routes/mcp.js'
import { safeRequestSerializer, redactedPaths } from './plugins/logging.js'

export interface BuildAppOptions {
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream
  /** Extra options for the MCP routes, such as a custom `createServer`. */
  mcp?: Pick<McpRoutesOptions, 'createServer' | 'now' | 'sessionStore'>
}

function mcpOptions (config: Config, extra: BuildAppOptions['mcp']): McpRoutesOptions {
  const loopback = isLoopback(config.server.host)
  const publicOrigin = config.server.publicUrl === undefined ? [] : [new URL(config.server.publicUrl).origin]
  return {
    path: config.mcp.path,
    sessions: config.mcp.sessions,
    sessionIdleTimeout: config.mcp.sessionIdleTimeout,
    maxSessions: config.mcp.maxSessions,
    fastToolCalls: config.mcp.fastToolCalls,
    allowedHosts: config.mcp.allowedHosts ?? (loopback ? [...LOOPBACK_HOSTS] : undefined),
    allowedOrigins: [...(config.mcp.allowedOrigins ?? (loopback ? LOOPBACK_ORIGINS : [])), ...publicOrigin],
    ...extra
  }
}

/** Builds the whole server from a validated config. It does not listen: see server.ts. */
export async function buildApp (config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const credentialHeaders = config.auth.apiKey === undefined ? [] : [config.auth.apiKey.header ?? 'x-api-key']
  const logger: FastifyServerOptions['logger'] = {
    level: config.logger.level,
    redact: { paths: redactedPaths(credentialHeaders), censor: '[redacted]' },
    serializers: { req: safeRequestSerializer },
    ...(options.logStream === undefined ? {} : { stream: options.logStream })
  }
  const app = Fastify({ logger })

  app.setErrorHandler(function replyWithoutInternals (error: FastifyError, request, reply) {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ statusCode: 500, code: 'MCP_AUTH_INTERNAL', error: 'Internal Server Error', message: 'internal error' })
    }
    return reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: error.message })
  })

  await app.register(healthRoutes)
  await app.register(async function protectedMcp (scope) {
    await scope.register(configuredAuth, config.auth)
    await scope.register(mcpRoutes, mcpOptions(config, options.mcp))
  })

  if (chosenStrategies(config.auth.strategy).includes('none')) {
    app.log.warn('authentication is OFF (strategy none): anyone who can reach this address can use every tool; for local development only')
  }
  return app
}
