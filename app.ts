import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import Fastify, { type FastifyError, type FastifyHttpOptions, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { deploymentContext, audiences, authorizationServer, hostRules, loginRoutes, mcpOptions, protectedResource } from './app-options.js'
import { isLoopback } from './config/schema.js'
import { errorBody, MCP_AUTH_INTERNAL, MCP_AUTH_NOT_FOUND } from './core/errors.js'
import type { Config } from './deployment.js'
import { auditLog } from './plugins/audit-log.js'
import { configuredAuth } from './plugins/auth/configured.js'
import { credentialHeaderNames, openAccessStrategy, tokenIssuingOf } from './plugins/auth/registry.js'
import { redactedPaths, safeErrorSerializer, safeRequestSerializer } from './plugins/logging.js'
import { metrics } from './plugins/metrics.js'
import { originHost } from './plugins/origin-host.js'
import { rateLimits } from './plugins/rate-limits.js'
import { tokenIssuer } from './plugins/token-issuer/plugin.js'
import authorizeRoutes from './routes/authorize.js'
import healthRoutes from './routes/health.js'
import registrationRoutes from './routes/registration.js'
import { createSessionStore, mcpRoutes, type McpRoutesOptions } from './routes/mcp.js'
import metricsRoutes from './routes/metrics.js'
import tokenRoutes, { TOKEN_BODY_LIMIT } from './routes/token.js'
import wellKnownRoutes, { authorizationServerRoutes, type ProtectedResourceOptions } from './routes/well-known.js'

export interface BuildAppOptions {
  /** Where log lines go (default: stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream
  /** Extra options for the MCP routes, such as a custom `createServer`. */
  mcp?: Pick<McpRoutesOptions, 'createServer' | 'now' | 'sessionStore'>
}

/** The metrics endpoint on a port of its own (`metrics.port`): server.ts listens on it. */
export interface MetricsServer {
  app: FastifyInstance
  host: string
  port: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set when metrics are served on a port of their own. */
    mcpAuthMetricsServer: MetricsServer | null
  }
}

/** A hop count as the function Fastify makes of one (its types do not list numbers): trust the first `hops` proxies. */
function trustProxy (setting: Config['server']['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') return setting
  return (_address: string, hop: number) => hop < setting
}

/**
 * With a CA, the handshake asks for a client certificate and checks it, but lets a connection
 * without one (or with one it cannot verify) through: the strategy answers it with a 401 and a
 * challenge, and other strategies in a list still run. A refused handshake would answer nothing.
 */
function clientCertificateRequest (caFile: string | undefined): { ca: Buffer, requestCert: true, rejectUnauthorized: false } | Record<string, never> {
  return caFile === undefined ? {} : { ca: readFileSync(caFile), requestCert: true, rejectUnauthorized: false }
}

/** Fastify's options; with `server.tls`, `https` makes it an HTTPS server (same Node options otherwise). */
function serverOptions (config: Config, options: BuildAppOptions): FastifyHttpOptions<Server> & { https?: { key: Buffer, cert: Buffer, ca?: Buffer } } {
  const tls = config.server.tls
  // Node checks request timeouts on an interval (30 s by default); short timeouts need a shorter one.
  const requestTimeout = config.server.requestTimeout
  const nodeServer = {
    maxHeaderSize: config.server.maxHeaderSize,
    connectionsCheckingInterval: requestTimeout > 0 ? Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 2))) : 30_000
  }
  return {
    logger: {
      level: config.logger.level,
      redact: { paths: redactedPaths(credentialHeaderNames(config.auth)), censor: '[redacted]' },
      serializers: { req: safeRequestSerializer, err: safeErrorSerializer },
      ...(options.logStream === undefined ? {} : { stream: options.logStream })
    },
    trustProxy: trustProxy(config.server.trustProxy),
    bodyLimit: config.server.bodyLimit,
    requestTimeout: config.server.requestTimeout,
    connectionTimeout: config.server.connectionTimeout,
    keepAliveTimeout: config.server.keepAliveTimeout,
    http: nodeServer,
    ...(tls === undefined ? {} : { https: { ...nodeServer, key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile), ...clientCertificateRequest(tls.caFile) } })
  }
}

function replyWithoutInternals (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500
  // Our own 503s (a busy KDF queue, an unreachable store) say what to do; other 5xx text stays in the log.
  if (status === 503 && error.code?.startsWith('MCP_AUTH_') === true) {
    return reply.code(503).header('retry-after', '1').send(errorBody(error))
  }
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send(errorBody(new MCP_AUTH_INTERNAL()))
  }
  return reply.code(status).send(errorBody({ ...error, statusCode: status, message: error.message }))
}

// Fastify's own 404 handler writes the full URL to the log: a credential a client put in the
// query string would be written down with it. This one names the path only, and logs nothing.
function notFound (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? ''
  return reply.code(404).send(errorBody(new MCP_AUTH_NOT_FOUND(`no route for ${request.method} ${path}`)))
}

/**
 * Graceful shutdown: requests in flight when closing starts still finish, and their connections
 * then close instead of idling until keepAliveTimeout (which would hold the shutdown open).
 */
function closeConnectionsAtShutdown (app: FastifyInstance): void {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', function closeAfterShutdown (_request, reply, payload, done) {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
}

/** The metrics endpoint: on the main server, or on a port of its own. */
async function registerMetricsRoutes (app: FastifyInstance, config: Config): Promise<void> {
  const routeOptions = { registry: app.mcpAuthMetrics.registry, path: config.metrics.path, key: config.metrics.key, sha256: config.metrics.sha256 }
  if (config.metrics.port === undefined) {
    await app.register(metricsRoutes, routeOptions)
    return
  }
  const metricsApp = Fastify({ logger: false })
  await metricsApp.register(metricsRoutes, routeOptions)
  app.mcpAuthMetricsServer = { app: metricsApp, host: config.metrics.host, port: config.metrics.port }
  app.addHook('onClose', async () => { await metricsApp.close() })
}

/**
 * Everything clients reach (the MCP endpoint, the metadata documents, the token endpoint) answers
 * only to the Host names it should: DNS-rebinding protection, before anything else. One set of
 * rate-limit counters covers the whole API: a failed login at the token endpoint counts for the
 * MCP endpoint too.
 */
async function registerPublicApi (app: FastifyInstance, config: Config, options: BuildAppOptions): Promise<void> {
  await app.register(async function publicApi (api) {
    await api.register(rateLimits, { ...config.rateLimit, audit: app.mcpAuthAudit })
    let metadata: ProtectedResourceOptions | undefined
    await api.register(async function oauthDocuments (documents) {
      // Read cross-origin by design (no Origin check); refusals in each route's own error format.
      await documents.register(originHost, { ...hostRules(config), origins: false, answer: 'error' })
      const hostCheckedByName = (): boolean => documents.mcpAuthHostChecked?.byName() ?? false
      metadata = protectedResource(config, hostCheckedByName)
      await registerTokenRoutes(documents, config, hostCheckedByName)
      if (metadata !== undefined) await documents.register(wellKnownRoutes, metadata)
    })
    await api.register(async function protectedMcp (scope) {
      // Host and Origin are checked before any credential is: a foreign page never counts as a failed login.
      await scope.register(originHost, hostRules(config))
      const isRevoked = app.hasDecorator('mcpAuthTokenIssuer') ? app.mcpAuthTokenIssuer.isRevoked : undefined
      await scope.register(configuredAuth, {
        auth: config.auth,
        context: deploymentContext(config, metadata, isRevoked),
        hook: { audit: app.mcpAuthAudit, throttle: api.mcpAuthLimits.throttle }
      })
      const sessionStore = app.hasDecorator('mcpAuthSessions') ? { sessionStore: app.mcpAuthSessions } : {}
      const tokenEndpoint = app.hasDecorator('mcpAuthTokenIssuer')
      await scope.register(mcpRoutes, { ...mcpOptions(config, metadata, tokenEndpoint), ...options.mcp, ...sessionStore, audit: app.mcpAuthAudit })
    })
    if (config.rateLimit.redisUrl !== undefined) app.mcpAuthReadiness.push({ name: 'rate-limit store', ready: api.mcpAuthLimits.ready })
  })
}

/** The token endpoint and its RFC 8414 metadata, when the token issuer is on. */
async function registerTokenRoutes (documents: FastifyInstance, config: Config, hostCheckedByName: () => boolean): Promise<void> {
  if (!documents.hasDecorator('mcpAuthTokenIssuer')) return
  const issuer = documents.mcpAuthTokenIssuer
  await documents.register(tokenRoutes, {
    clients: issuer.clients,
    assertions: issuer.clientAssertions,
    service: issuer.service,
    verifyOwnToken: issuer.signing.verifyOwnToken,
    audienceFor: audiences(config, issuer.signing),
    bodyLimit: Math.min(config.server.bodyLimit, TOKEN_BODY_LIMIT),
    audit: documents.mcpAuthAudit,
    throttle: documents.mcpAuthLimits.throttle,
    certificateBoundTokens: issuer.certificateBoundTokens,
    login: issuer.login === undefined ? undefined : { clients: issuer.login.clients, codes: issuer.login.codes, documentLimit: issuer.login.options.authorizeLimit }
  })
  await registerLoginRoutes(documents, config)
  const metadata = authorizationServer(config, issuer, hostCheckedByName)
  if (metadata !== undefined) await documents.register(authorizationServerRoutes, metadata)
}

/** Interactive login (authorization endpoint, login and consent pages) and dynamic registration, with `issue.login`. */
async function registerLoginRoutes (documents: FastifyInstance, config: Config): Promise<void> {
  const issuer = documents.mcpAuthTokenIssuer
  const login = loginRoutes(config, issuer)
  if (login === undefined) return
  await documents.register(authorizeRoutes, { ...login, audit: documents.mcpAuthAudit, throttle: documents.mcpAuthLimits.throttle })
  const registration = login.login.options.dynamicRegistration
  if (registration !== false) await documents.register(registrationRoutes, { clients: login.login.clients, ...registration, audit: documents.mcpAuthAudit })
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Stateful MCP sessions, shared by the routes and the metrics gauge. */
    mcpAuthSessions: ReturnType<typeof createSessionStore>
    /** What /readyz checks. */
    mcpAuthReadiness: Array<{ name: string, ready: () => Promise<boolean> }>
  }
}

function warnings (app: FastifyInstance, config: Config): void {
  if (openAccessStrategy(config.auth) !== undefined) {
    app.log.warn(`authentication is OFF (strategy ${openAccessStrategy(config.auth) ?? ''}): anyone who can reach this address can use every tool; for local development only`)
  }
  if (!isLoopback(config.server.host) && config.server.tls === undefined && config.server.trustProxy === false) {
    app.log.warn(`SECURITY: serving plain HTTP on ${config.server.host}: credentials cross the network unencrypted. Configure server.tls, or terminate TLS at a proxy and set server.trustProxy`)
  }
}

/** Builds the whole server from a validated config. It does not listen: see server.ts. */
export async function buildApp (config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, options))
  app.setErrorHandler(replyWithoutInternals)
  app.setNotFoundHandler(notFound)
  closeConnectionsAtShutdown(app)
  app.decorate('mcpAuthReadiness', [])
  app.decorate('mcpAuthMetricsServer', null)

  const sessionStore = options.mcp?.sessionStore ?? (config.mcp.sessions === 'stateful' ? createSessionStore({ ...config.mcp, ...options.mcp }) : undefined)
  if (sessionStore !== undefined) app.decorate('mcpAuthSessions', sessionStore)
  if (config.metrics.enabled) await app.register(metrics, { sessions: sessionStore === undefined ? undefined : () => sessionStore.size })
  await app.register(auditLog, { ...config.audit, stream: options.logStream, alsoTo: config.metrics.enabled ? [app.mcpAuthMetrics.sink] : [] })
  const issuing = tokenIssuingOf(config.auth)
  if (issuing !== undefined) {
    await app.register(tokenIssuer, { ...issuing, store: config.store, scopeHierarchy: config.mcp.scopeHierarchy })
    if (config.store.redisUrl !== undefined) app.mcpAuthReadiness.push({ name: 'token store', ready: () => app.mcpAuthTokenIssuer.store.ready() })
  }
  await registerPublicApi(app, config, options)
  await app.register(healthRoutes, { checks: app.mcpAuthReadiness })
  if (config.metrics.enabled) await registerMetricsRoutes(app, config)
  warnings(app, config)
  return app
}
