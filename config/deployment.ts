import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { calculatorTools } from '../mcp/calculator.js'
import { minimalScopes } from '../mcp/permissions.js'
import { ToolAccess } from '../mcp/tool-access.js'
import { createOwnTokenVerifier, createTokenSigner, type SignedToken, type TokenClaims } from '../plugins/auth/jwt-signer.js'
import { revocationKeys, TokenService, type IssuedClaims } from '../plugins/auth/token-service.js'
import { createTokenStore, RedisTokenStore, type TokenStore } from '../plugins/token-store/index.js'
import type { OriginHostOptions } from '../plugins/origin-host.js'
import type { McpRoutesOptions } from '../routes/mcp.js'
import type { AudienceFor, TokenRoutesOptions } from '../routes/token.js'
import { REVOCATION_PATH, TOKEN_BODY_LIMIT, TOKEN_PATH } from '../routes/token.js'
import { resourceMetadataUrl, resourceUrl, type AuthorizationServerOptions, type ProtectedResourceOptions } from '../routes/well-known.js'
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

/**
 * Where RFC 9728 metadata is published: jwt deployments that name who issues their tokens.
 * `hostCheckedByName` says whether the Host check in front of it accepts named hosts only (then,
 * without `server.publicUrl`, the documents' URLs may come from the Host header).
 */
export function protectedResource (config: Config, hostCheckedByName: () => boolean = () => false): ProtectedResourceOptions | undefined {
  const jwt = config.auth.jwt
  if (!chosenStrategies(config.auth.strategy).includes('jwt') || jwt === undefined) return undefined
  // Only URLs can name an authorization server: an issuer such as "my-service" publishes nothing.
  const authorizationServers = jwt.authorizationServers ?? (jwt.issuer !== undefined && /^https?:\/\//.test(jwt.issuer) ? [jwt.issuer] : undefined)
  if (authorizationServers === undefined) return undefined
  return {
    publicUrl: config.server.publicUrl,
    hostCheckedByName,
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

type JwtConfig = NonNullable<Config['auth']['jwt']>

/**
 * Signs with the configured audience, or with another one the token endpoint chose (RFC 8707);
 * a signer per audience, made on first use (audiences come from the config, see `audiences`).
 */
function issuingSigner (jwt: JwtConfig): (claims: IssuedClaims) => SignedToken {
  const signers = new Map<string | undefined, (claims: TokenClaims) => SignedToken>([[undefined, createTokenSigner(jwt)]])
  return ({ audience, ...claims }) => {
    let sign = signers.get(audience)
    if (sign === undefined) {
      sign = createTokenSigner({ ...jwt, audience })
      signers.set(audience, sign)
    }
    return sign(claims)
  }
}

/**
 * RFC 8707 at the token endpoint: the `resource` values that name this server and the `aud` of a
 * token for each. This server's resource is the MCP URL of its protected resource metadata
 * (`server.publicUrl` + `mcp.path`); an absolute URI in `jwt.audience` names it too. The `aud` is
 * the resource when the verifier accepts it; else the configured audience. Never one taken from
 * a Host header: without `publicUrl` and `audience`, the resource is accepted and tokens keep no `aud`.
 */
function audiences (config: Config, jwt: JwtConfig): AudienceFor {
  const configured = jwt.audience === undefined ? [] : [jwt.audience].flat()
  const byResource = new Map(configured.filter((audience) => URL.canParse(audience)).map((audience) => [new URL(audience).href, audience]))
  const location = { publicUrl: config.server.publicUrl, mcpPath: config.mcp.path }
  return (resource, request) => {
    const audience = byResource.get(resource)
    if (audience !== undefined) return audience
    const ours = resourceUrl(request, location)
    if (ours === undefined || !URL.canParse(ours) || new URL(ours).href !== resource) return false
    if (configured.length > 0) return undefined
    return config.server.publicUrl === undefined ? undefined : ours
  }
}

/** The built-in token endpoint, when `auth.jwt.issue` is configured. */
export function tokenIssuing (config: Config, log: FastifyBaseLogger, hostCheckedByName: () => boolean = () => false): Issuing | undefined {
  const jwt = config.auth.jwt
  if (jwt?.issue === undefined) return undefined
  const store = createTokenStore(config.store)
  const permissions = new Map(jwt.issue.clients.map((client) => [client.id, client.permissions]))
  const service = new TokenService({
    store,
    sign: issuingSigner(jwt),
    accessTokenTtl: jwt.issue.accessTokenTtl,
    refreshTokenTtl: jwt.issue.refreshTokenTtl,
    clientPermissions: (clientId) => permissions.get(clientId),
    reuseInterval: jwt.issue.refreshReuseInterval,
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
    routes: {
      clients: jwt.issue.clients,
      service,
      verifyOwnToken: createOwnTokenVerifier(jwt),
      audienceFor: audiences(config, jwt),
      bodyLimit: Math.min(config.server.bodyLimit, TOKEN_BODY_LIMIT)
    },
    metadata: jwt.issuer === undefined
      ? undefined
      : { issuer: jwt.issuer, publicUrl: config.server.publicUrl, hostCheckedByName, tokenPath: TOKEN_PATH, revocationPath: REVOCATION_PATH, scopes: calculatorScopes(config) }
  }
}

/**
 * The Host and Origin rules for everything clients reach. Unset lists are decided from the
 * address the server listens on; with authentication off (strategy none), no web page may call
 * the tools unless configured.
 */
export function hostRules (config: Config): OriginHostOptions {
  return {
    ...(config.mcp.allowedHosts === undefined ? {} : { allowedHosts: config.mcp.allowedHosts }),
    ...(config.mcp.allowedOrigins !== undefined
      ? { allowedOrigins: config.mcp.allowedOrigins }
      : chosenStrategies(config.auth.strategy).includes('none') ? { allowedOrigins: [] } : {}),
    ...(config.server.publicUrl === undefined ? {} : { publicUrl: config.server.publicUrl })
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
    toolPermissions: config.mcp.toolPermissions,
    scopeHierarchy: config.mcp.scopeHierarchy,
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request: FastifyRequest) => resourceMetadataUrl(request, metadata) })
  }
}

/**
 * The scopes a 401 challenge names: the permission of the tool a 2026-07-28 request says it calls
 * (its `Mcp-Method` and `Mcp-Name` headers), so a client asks for no more than it needs; for any
 * other request, the scopes the metadata lists.
 */
export function challengeScopes (config: Config, metadata: ProtectedResourceOptions): (request: FastifyRequest) => readonly string[] {
  const access = new ToolAccess({ prefix: 'calculator', overrides: config.mcp.toolPermissions })
  const tools = new Set<string>(calculatorTools)
  return (request) => {
    const name = request.headers['mcp-name']
    if (request.headers['mcp-method'] === 'tools/call' && typeof name === 'string' && tools.has(name)) return [access.permissionFor(name)]
    return metadata.scopes
  }
}
