import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { calculatorTools } from '../mcp/calculator.js'
import { minimalScopes } from '../mcp/permissions.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { createOwnTokenVerifier, createTokenSigner } from '../plugins/auth/jwt-signer.js'
import { revocationKeys, TokenService } from '../plugins/auth/token-service.js'
import { createTokenStore, RedisTokenStore, type TokenStore } from '../plugins/token-store/index.js'
import type { McpRoutesOptions } from '../routes/mcp.js'
import type { TokenRoutesOptions } from '../routes/token.js'
import { REVOCATION_PATH, TOKEN_PATH } from '../routes/token.js'
import { resourceMetadataUrl, type AuthorizationServerOptions, type ProtectedResourceOptions } from '../routes/well-known.js'
import { chosenStrategies, type Config } from './schema.js'

// What the app derives from a validated config: options for the plugins and routes it registers.

/**
 * The scopes a client needs for the calculator: the fewest that cover every tool's permission
 * (RFC 9728 `scopes_supported`, the minimal set for basic use), never empty.
 */
export function calculatorScopes (config: Config): string[] {
  const access = new ToolAccess({ prefix: 'calculator', overrides: config.mcp.toolPermissions })
  const scopes = minimalScopes(calculatorTools.map((tool) => access.permissionFor(tool)), config.mcp.scopeHierarchy)
  return scopes.length > 0 ? scopes : ['calculator:*']
}

/** Where RFC 9728 metadata is published: jwt deployments that name who issues their tokens. */
export function protectedResource (config: Config): ProtectedResourceOptions | undefined {
  const jwt = config.auth.jwt
  if (!chosenStrategies(config.auth.strategy).includes('jwt') || jwt === undefined) return undefined
  // Only URLs can name an authorization server: an issuer such as "my-service" publishes nothing.
  const authorizationServers = jwt.authorizationServers ?? (jwt.issuer !== undefined && /^https?:\/\//.test(jwt.issuer) ? [jwt.issuer] : undefined)
  if (authorizationServers === undefined) return undefined
  return {
    publicUrl: config.server.publicUrl,
    mcpPath: config.mcp.path,
    authorizationServers,
    scopes: calculatorScopes(config),
    resourceName: 'fastify-mcp-auth calculator'
  }
}

export interface Issuing {
  store: TokenStore
  connected: Promise<boolean>
  isRevoked: (claims: Readonly<Record<string, unknown>>) => Promise<boolean>
  routes: TokenRoutesOptions
  metadata: AuthorizationServerOptions | undefined
}

/** The built-in token endpoint, when `auth.jwt.issue` is configured. */
export function tokenIssuing (config: Config, log: FastifyBaseLogger): Issuing | undefined {
  const jwt = config.auth.jwt
  if (jwt?.issue === undefined) return undefined
  const store = createTokenStore(config.store)
  const service = new TokenService({
    store,
    sign: createTokenSigner(jwt),
    accessTokenTtl: jwt.issue.accessTokenTtl,
    refreshTokenTtl: jwt.issue.refreshTokenTtl,
    scopeHierarchy: config.mcp.scopeHierarchy,
    onReuse: ({ clientId, family }) => log.warn({ event: 'security', reason: 'refresh_token_reuse', principal: clientId, family }, 'a used refresh token was presented again: its family is revoked')
  })
  return {
    store,
    connected: store instanceof RedisTokenStore ? store.connected(3000) : Promise.resolve(true),
    isRevoked: async (claims) => {
      const keys = revocationKeys(claims)
      return keys.length > 0 && await store.anyExists(keys)
    },
    routes: { clients: jwt.issue.clients, service, verifyOwnToken: createOwnTokenVerifier(jwt) },
    metadata: jwt.issuer === undefined
      ? undefined
      : { issuer: jwt.issuer, publicUrl: config.server.publicUrl, tokenPath: TOKEN_PATH, revocationPath: REVOCATION_PATH, scopes: calculatorScopes(config) }
  }
}

export function mcpOptions (config: Config, metadata: ProtectedResourceOptions | undefined): McpRoutesOptions {
  return {
    path: config.mcp.path,
    sessions: config.mcp.sessions,
    sessionIdleTimeout: config.mcp.sessionIdleTimeout,
    maxSessions: config.mcp.maxSessions,
    maxSessionsPerPrincipal: config.mcp.maxSessionsPerPrincipal,
    maxBatchSize: config.mcp.maxBatchSize,
    fastToolCalls: config.mcp.fastToolCalls,
    // Unset lists are decided by the route from the address the server listens on.
    ...(config.mcp.allowedHosts === undefined ? {} : { allowedHosts: config.mcp.allowedHosts }),
    ...(config.mcp.allowedOrigins === undefined ? {} : { allowedOrigins: config.mcp.allowedOrigins }),
    ...(config.server.publicUrl === undefined ? {} : { publicUrl: config.server.publicUrl }),
    toolPermissions: config.mcp.toolPermissions,
    scopeHierarchy: config.mcp.scopeHierarchy,
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request: FastifyRequest) => resourceMetadataUrl(request, metadata) })
  }
}
