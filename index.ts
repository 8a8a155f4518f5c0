// The public API: everything a host Fastify app needs to put an MCP server behind authentication.

// Strategy plugins (each wrapped with fastify-plugin; auth applies to the scope they are registered in).
export { apiKeyAuth, createApiKeyAuthenticator, type ApiKeyOptions } from './plugins/auth/api-key.js'
export { bearerAuth, createBearerAuthenticator, type BearerOptions } from './plugins/auth/bearer.js'
export { basicAuth, createBasicAuthenticator, type BasicOptions } from './plugins/auth/basic.js'
export { jwtAuth, createJwtAuthenticator, type JwtOptions, type JwtPluginOptions } from './plugins/auth/jwt.js'
export { noneAuth, createNoneAuthenticator, type NoneOptions } from './plugins/auth/none.js'
export { introspectionAuth, createIntrospectionAuthenticator, type IntrospectionOptions, type IntrospectionPluginOptions } from './plugins/auth/introspection.js'
export { trustedHeaderAuth, createTrustedHeaderAuthenticator, type TrustedHeaderOptions } from './plugins/auth/trusted-header.js'
export { mtlsAuth, createMtlsAuthenticator, type MtlsOptions } from './plugins/auth/mtls.js'
export { configuredAuth, type ConfiguredAuthOptions } from './plugins/auth/configured.js'
export { addAuthHook, createAuthHandler, registerStrategy, type AuthHandler, type AuthHookOptions, type McpAuth, type StrategyRegistration } from './plugins/auth/hook.js'
export type { Authenticator, AuthOutcome, ChallengeFamily, DeploymentContext, FailedAuthThrottle, FailureReason } from './core/authenticator.js'
export { principalKey, toAuthInfo, type Principal } from './core/principal.js'
export * as errors from './core/errors.js'

// The MCP endpoint and the servers behind it.
export { mcpRoutes, type McpRoutesOptions } from './routes/mcp.js'
export { createCalculatorServer, type CreateMcpServer, type CreateServerContext, type MountedServer } from './mcp/server.js'
export { registerCalculatorTools, calculatorTools } from './mcp/calculator.js'
export { DUAL_ERA_PROTOCOL_VERSIONS, LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSION, type ProtocolEra } from './mcp/protocol-versions.js'
export { grants, minimalScopes, type AccessCheck, type ScopeHierarchy } from './core/permissions.js'
export { PERMISSION_DENIED } from './mcp/tool-access.js'
export { JsonRpcCode } from './core/jsonrpc.js'

// Tokens: minting (for tests and admin tools), password hashes, stores.
export { createTokenSigner, createTokenSigning, type TokenClaims, type SignedToken } from './plugins/auth/jwt-signer.js'
export type { TokenSigning } from './core/signing.js'
export { hashPassword } from './plugins/credentials/password-hash.js'
export { MemoryTokenStore, RedisTokenStore, createTokenStore, type TokenStore } from './plugins/token-store/index.js'

// Cross-cutting plugins (fastify-plugin; each decorates the scope it is registered in).
export { rateLimits, type RateLimitOptions, type RateLimits } from './plugins/rate-limits.js'
export { auditLog, type AuditLogOptions } from './plugins/audit-log.js'
export type { AuditSink, AuthEvent, SessionEvent, ToolEvent } from './plugins/audit.js'
export { metrics, type MetricsOptions } from './plugins/metrics.js'
export { tokenIssuer, type TokenIssuer, type TokenIssuerOptions } from './plugins/token-issuer/plugin.js'

// Configuration and the complete server.
export { configFileFrom, DEFAULT_CONFIG_FILE } from './config/load.js'
export { loadConfigFile, parseConfig, configSchema, type Config, type ConfigInput } from './deployment.js'
export { ConfigError, type ConfigProblem } from './core/problems.js'
export { buildApp, type BuildAppOptions } from './app.js'
export { startServer, type RunningServer } from './server.js'
