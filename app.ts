import { STATUS_CODES } from 'node:http'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { chosenStrategies, isLoopback, type Config } from './config/schema.js'
import { configuredAuth } from './plugins/auth/configured.js'
import { LOOPBACK_HOSTS, LOOPBACK_ORIGINS } from './plugins/origin-host.js'
import healthRoutes from './routes/health.js'
import wellKnownRoutes, { authorizationServerRoutes, resourceMetadataUrl, type ProtectedResourceOptions } from './routes/well-known.js'
import tokenRoutes, { REVOCATION_PATH, TOKEN_PATH } from './routes/token.js'
import { createTokenStore, RedisTokenStore } from './plugins/token-store/index.js'
import { revocationKeys, TokenService } from './plugins/auth/token-service.js'
import { createOwnTokenVerifier, createTokenSigner } from './plugins/auth/jwt-signer.js'
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

/** The built-in token endpoint, when `auth.jwt.issue` is configured. */
function tokenIssuing (config: Config, app: FastifyInstance) {
  const jwt = config.auth.jwt
  if (jwt?.issue === undefined) return undefined
  const issue = jwt.issue
  const store = createTokenStore(config.store)
  const service = new TokenService({
    store,
    sign: createTokenSigner(jwt),
    accessTokenTtl: issue.accessTokenTtl,
    refreshTokenTtl: issue.refreshTokenTtl,
    onReuse: ({ clientId, family }) => app.log.warn({ event: 'security', reason: 'refresh_token_reuse', principal: clientId, family }, 'a used refresh token was presented again: its family is revoked')
  })
  const permissions = new ToolAccess({ prefix: 'calculator', overrides: config.mcp.toolPermissions })
  return {
    store,
    connected: store instanceof RedisTokenStore ? store.connected(3000) : Promise.resolve(true),
    isRevoked: async (claims: Readonly<Record<string, unknown>>) => {
      const keys = revocationKeys(claims)
      return keys.length > 0 && await store.anyExists(keys)
    },
    routes: { clients: issue.clients, service, verifyOwnToken: createOwnTokenVerifier(jwt) },
    metadata: jwt.issuer === undefined
      ? undefined
      : {
          issuer: jwt.issuer,
          publicUrl: config.server.publicUrl,
          tokenPath: TOKEN_PATH,
          revocationPath: REVOCATION_PATH,
          scopes: [...new Set(calculatorTools.map((tool) => permissions.permissionFor(tool)))]
        }
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
    // Our own 503s (a busy KDF queue, an unreachable token store) say what to do; other 5xx text stays in the log.
    if (status === 503 && error.code?.startsWith('MCP_AUTH_') === true) {
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, code: error.code, error: STATUS_CODES[503], message: error.message })
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(500).send({ statusCode: 500, code: 'MCP_AUTH_INTERNAL', error: 'Internal Server Error', message: 'internal error' })
    }
    return reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: error.message })
  })

  const metadata = protectedResource(config)
  const issuing = tokenIssuing(config, app)
  const context: DeploymentContext = {
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request: FastifyRequest) => resourceMetadataUrl(request, metadata), challengeScopes: metadata.scopes }),
    ...(issuing === undefined ? {} : { isRevoked: issuing.isRevoked })
  }
  if (issuing !== undefined) {
    app.addHook('onClose', async () => { await issuing.store.close() })
    await issuing.connected
    await app.register(tokenRoutes, issuing.routes)
    if (issuing.metadata !== undefined) await app.register(authorizationServerRoutes, issuing.metadata)
  }

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
