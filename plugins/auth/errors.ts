import createError from '@fastify/error'

export const MCP_AUTH_MISSING_CREDENTIALS = createError('MCP_AUTH_MISSING_CREDENTIALS', 'missing credentials', 401)
export const MCP_AUTH_INVALID_CREDENTIALS = createError('MCP_AUTH_INVALID_CREDENTIALS', 'invalid credentials', 401)
export const MCP_AUTH_TOKEN_EXPIRED = createError('MCP_AUTH_TOKEN_EXPIRED', 'token expired', 401)
export const MCP_AUTH_TOKEN_REVOKED = createError('MCP_AUTH_TOKEN_REVOKED', 'token revoked', 401)
export const MCP_AUTH_RATE_LIMITED = createError<[string]>('MCP_AUTH_RATE_LIMITED', 'rate limit exceeded: %s', 429)
export const MCP_AUTH_RATE_LIMIT_UNAVAILABLE = createError('MCP_AUTH_RATE_LIMIT_UNAVAILABLE', 'rate-limit store unreachable, try again shortly', 503)
export const MCP_AUTH_INVALID_OPTION = createError<[string, string]>('MCP_AUTH_INVALID_OPTION', '%s: invalid option %s')
export const MCP_AUTH_NOT_LOOPBACK = createError('MCP_AUTH_NOT_LOOPBACK', 'authentication is off here (strategy none): only connections from this machine are served', 403)
export const MCP_AUTH_AMBIGUOUS_CREDENTIALS = createError<[string]>('MCP_AUTH_AMBIGUOUS_CREDENTIALS', 'ambiguous credentials: the %s header was sent more than once', 400)
export const MCP_AUTH_HOST_NOT_ALLOWED = createError('MCP_AUTH_HOST_NOT_ALLOWED', 'Host header not allowed', 403)
export const MCP_AUTH_ORIGIN_NOT_ALLOWED = createError('MCP_AUTH_ORIGIN_NOT_ALLOWED', 'Origin not allowed', 403)
