import type { FastifyRequest } from 'fastify'
import type { DeploymentContext } from './core/authenticator.js'
import { minimalScopes } from './core/permissions.js'
import type { TokenSigning } from './core/signing.js'
import type { Config } from './deployment.js'
import { calculatorTools } from './mcp/calculator.js'
import { ToolAccess } from './mcp/tool-access.js'
import { authorizationServersOf, openAccessStrategy, tokenIssueOptionsOf } from './plugins/auth/registry.js'
import type { OriginHostOptions } from './plugins/origin-host.js'
import type { TokenIssuer } from './plugins/token-issuer/plugin.js'
import type { McpRoutesOptions } from './routes/mcp.js'
import { AUTHORIZE_PATH, type AuthorizeRoutesOptions } from './routes/authorize.js'
import { REGISTRATION_PATH } from './routes/registration.js'
import { OAUTH_CLIENT_CREDENTIALS_EXTENSION, REVOCATION_PATH, TOKEN_PATH, type AudienceFor } from './routes/token.js'
import { resourceMetadataUrl, resourceUrl, type AuthorizationServerOptions, type ProtectedResourceOptions } from './routes/well-known.js'

// What buildApp derives from a validated config: options for the plugins and routes it registers.

function toolAccess (config: Config): ToolAccess {
  return new ToolAccess({ prefix: config.mcp.permissionPrefix, overrides: config.mcp.toolPermissions })
}

/**
 * The scopes a client needs for the calculator: the fewest that cover every tool's permission
 * (RFC 9728 `scopes_supported`, the minimal set for basic use), never empty.
 */
export function calculatorScopes (config: Config): string[] {
  const access = toolAccess(config)
  const scopes = minimalScopes(calculatorTools.map((tool) => access.permissionFor(tool)), config.mcp.scopeHierarchy)
  return scopes.length > 0 ? scopes : [`${config.mcp.permissionPrefix}:*`]
}

/**
 * Where RFC 9728 metadata is published: deployments whose strategies name who issues their tokens.
 * `hostCheckedByName` says whether the Host check in front of it accepts named hosts only (then,
 * without `server.publicUrl`, the documents' URLs may come from the Host header).
 */
export function protectedResource (config: Config, hostCheckedByName: () => boolean = () => false): ProtectedResourceOptions | undefined {
  const authorizationServers = authorizationServersOf(config.auth)
  if (authorizationServers === undefined) return undefined
  return {
    publicUrl: config.server.publicUrl,
    hostCheckedByName,
    mcpPath: config.mcp.path,
    authorizationServers,
    scopes: calculatorScopes(config),
    resourceName: 'fastify-mcp-auth calculator',
    certificateBoundTokens: tokenIssueOptionsOf(config.auth)?.certificateBoundTokens === true
  }
}

/**
 * RFC 8707 at the token endpoint: the `resource` values that name this server and the `aud` of a
 * token for each. This server's resource is the MCP URL of its protected resource metadata
 * (`server.publicUrl` + `mcp.path`); an absolute URI among the configured audiences names it too.
 * The `aud` is the resource when the verifier accepts it; else the configured audience. Never one
 * taken from a Host header: without `publicUrl` and an audience, the resource is accepted and
 * tokens keep no `aud`.
 */
export function audiences (config: Config, signing: TokenSigning): AudienceFor {
  const configured = signing.audiences
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

/**
 * RFC 8414 metadata of the built-in token issuer, when its tokens name an issuer. private_key_jwt
 * is listed only when some client is registered by key, with the algorithms such clients may use.
 */
export function authorizationServer (config: Config, issuer: Pick<TokenIssuer, 'signing' | 'clientAssertions' | 'certificateBoundTokens' | 'login'>, hostCheckedByName: () => boolean): AuthorizationServerOptions | undefined {
  if (issuer.signing.issuer === undefined) return undefined
  const registration = issuer.login !== undefined && issuer.login.options.dynamicRegistration !== false
  return {
    ...(issuer.login === undefined ? {} : { authorizationPath: AUTHORIZE_PATH }),
    ...(registration ? { registrationPath: REGISTRATION_PATH } : {}),
    clientIdMetadataDocuments: issuer.login !== undefined && issuer.login.options.clientMetadataDocuments !== false,
    issuer: issuer.signing.issuer,
    publicUrl: config.server.publicUrl,
    hostCheckedByName,
    tokenPath: TOKEN_PATH,
    revocationPath: REVOCATION_PATH,
    scopes: calculatorScopes(config),
    assertionAlgorithms: issuer.clientAssertions?.algorithms ?? [],
    certificateBoundTokens: issuer.certificateBoundTokens
  }
}

/**
 * The authorization endpoint and its pages, with `issue.login`. They need the tokens' issuer (the
 * `iss` of every authorization response) and server.publicUrl (the origin their forms must come
 * from, and whether the cookie is Secure): without either, start-up stops and says so.
 */
export function loginRoutes (config: Config, issuer: Pick<TokenIssuer, 'signing' | 'login'>): Omit<AuthorizeRoutesOptions, 'audit' | 'throttle'> | undefined {
  const login = issuer.login
  if (login === undefined) return undefined
  const publicUrl = config.server.publicUrl
  if (issuer.signing.issuer === undefined || publicUrl === undefined) {
    throw new Error('auth.jwt.issue.login needs auth.jwt.issuer (the iss of authorization responses) and server.publicUrl (the origin of the login pages)')
  }
  return { issuer: issuer.signing.issuer, origin: new URL(publicUrl).origin, login, audienceFor: audiences(config, issuer.signing), scopeHierarchy: config.mcp.scopeHierarchy }
}

/**
 * The Host and Origin rules for everything clients reach. Unset lists are decided from the
 * address the server listens on; with authentication off, no web page may call the tools unless
 * configured.
 */
export function hostRules (config: Config): OriginHostOptions {
  return {
    ...(config.mcp.allowedHosts === undefined ? {} : { allowedHosts: config.mcp.allowedHosts }),
    ...(config.mcp.allowedOrigins !== undefined
      ? { allowedOrigins: config.mcp.allowedOrigins }
      : openAccessStrategy(config.auth) !== undefined ? { allowedOrigins: [] } : {}),
    ...(config.server.publicUrl === undefined ? {} : { publicUrl: config.server.publicUrl })
  }
}

/** `tokenEndpoint`: the built-in token endpoint is on, so the servers advertise the OAuth client-credentials extension. */
export function mcpOptions (config: Config, metadata: ProtectedResourceOptions | undefined, tokenEndpoint = false): McpRoutesOptions {
  return {
    ...config.mcp,
    ...(tokenEndpoint ? { extensions: { [OAUTH_CLIENT_CREDENTIALS_EXTENSION]: {} } } : {}),
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request: FastifyRequest) => resourceMetadataUrl(request, metadata) })
  }
}

/**
 * The scopes a 401 challenge names: the permission of the tool a 2026-07-28 request says it calls
 * (its `Mcp-Method` and `Mcp-Name` headers), so a client asks for no more than it needs; for any
 * other request, the scopes the metadata lists.
 */
function challengeScopes (config: Config, metadata: ProtectedResourceOptions): (request: FastifyRequest) => readonly string[] {
  const access = toolAccess(config)
  const tools = new Set<string>(calculatorTools)
  return (request) => {
    const name = request.headers['mcp-name']
    if (request.headers['mcp-method'] === 'tools/call' && typeof name === 'string' && tools.has(name)) return [access.permissionFor(name)]
    return metadata.scopes
  }
}

/** What the strategies need to know of the deployment: where its metadata is, and what is revoked. */
export function deploymentContext (config: Config, metadata: ProtectedResourceOptions | undefined, isRevoked: DeploymentContext['isRevoked']): DeploymentContext {
  return {
    ...(metadata === undefined ? {} : { resourceMetadataUrl: (request) => resourceMetadataUrl(request, metadata), challengeScopes: challengeScopes(config, metadata) }),
    ...(isRevoked === undefined ? {} : { isRevoked })
  }
}
