import { STATUS_CODES } from 'node:http'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { chosenStrategies, isLoopback, type Config } from './config/schema.js'
import { configuredAuth } from './plugins/auth/configured.js'
import { LOOPBACK_HOSTS, LOOPBACK_ORIGINS } from './plugins/origin-host.js'
import healthRoutes from './routes/health.js'
import wellKnownRoutes, { resourceMetadataUrl, type ProtectedResourceOptions } from './routes/well-known.js'
import { calculatorTools } from './mcp/calculator.js'
import { ToolAccess } from './mcp/tool-access.js'
import type { DeploymentContext } from './plugins/auth/authenticator.js'
import { mcpRoutes, type McpRoutesOptions } from './routes/mcp.js'
import { safeRequestSerializer, redactedPaths } from './plugins/logging.js'

export interface BuildAppOptions {
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream
  /** Extra options for the MCP routes, such as a custom `createServer`. */
  mcp?: Pick<McpRoutesOptions, 'createServer' | 'now' | 'sessionStore'>
}

/** Where RFC 9728 metadata is published: jwt deployments that name who issues their tokens. */
function protectedResource (config: Config): ProtectedResourceOptions | undefined {
  const jwt = config.auth.jwt
  if (!chosenStrategies(config.auth.strategy).includes('jwt') || jwt === undefined) return undefined
  const authorizationServers = jwt.authorizationServers ?? (jwt.issuer === undefined ? undefined : [jwt.issuer])
  if (authorizationServers === undefined) return undefined
  const permissions = new ToolAccess({ prefix: 'calculator', overrides: config.mcp.toolPermissions })
  return {
    publicUrl: config.server.publicUrl,
    mcpPath: config.mcp.path,
    authorizationServers,
    scopes: [...new Set(calculatorTools.map((tool) => permissions.permissionFor(tool)))],
    resourceName: 'fastify-mcp-auth calculator'
  }
}

function mcpOptions (config: Config, extra: BuildAppOptions['mcp'], metadata: ProtectedResourceOptions | undefined): McpRoutesOptions {
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
    toolPermissions: config.mcp.toolPermissions,
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request: FastifyRequest) => resourceMetadataUrl(request, metadata) }),
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

  const metadata = protectedResource(config)
  const context: DeploymentContext = metadata === undefined
    ? {}
    : { resourceMetadataUrl: (request) => resourceMetadataUrl(request, metadata), challengeScopes: metadata.scopes }

  await app.register(healthRoutes)
  if (metadata !== undefined) await app.register(wellKnownRoutes, metadata)
  await app.register(async function protectedMcp (scope) {
    await scope.register(configuredAuth, { auth: config.auth, context })
    await scope.register(mcpRoutes, mcpOptions(config, options.mcp, metadata))
  })

  if (chosenStrategies(config.auth.strategy).includes('none')) {
    app.log.warn('authentication is OFF (strategy none): anyone who can reach this address can use every tool; for local development only')
  }
  return app
}
