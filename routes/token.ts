import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createClientAuthenticator, type ClientEntry } from '../plugins/auth/client-credentials.js'
import { OAuthError, type TokenService } from '../plugins/auth/token-service.js'
import type { Principal } from '../plugins/auth/principal.js'

export interface TokenRoutesOptions {
  clients: readonly ClientEntry[]
  service: TokenService
  /** The claims of an access token this deployment signed, or undefined. */
  verifyOwnToken: (token: string) => Record<string, unknown> | undefined
  realm?: string
}

export const TOKEN_PATH = '/oauth/token'
export const REVOCATION_PATH = '/oauth/revoke'

function field (body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new OAuthError('invalid_request', `${name} must be a single string`)
  return value
}

/**
 * The token endpoint (RFC 6749 §4.4 client credentials, §6 refresh) and the revocation
 * endpoint (RFC 7009). Bodies are form-encoded or JSON; answers are never cached.
 */
export default async function tokenRoutes (fastify: FastifyInstance, options: TokenRoutesOptions): Promise<void> {
  await fastify.register(formbody)
  const authenticateClient = await createClientAuthenticator(fastify, options.clients)
  const realm = options.realm ?? 'oauth'

  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  })
  fastify.setErrorHandler(function oauthErrors (error: Error & { statusCode?: number }, request, reply) {
    if (error instanceof OAuthError) {
      if (error.status === 401) reply.header('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      request.log.info({ event: 'auth', strategy: 'client', outcome: 'failure', reason: error.error }, 'token request refused')
      return reply.code(error.status).send({ error: error.error, error_description: error.description })
    }
    if (error.statusCode === 503) {
      return reply.code(503).header('retry-after', '1').send({ error: 'temporarily_unavailable', error_description: error.message })
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(400).send({ error: 'invalid_request', error_description: error.message })
    }
    throw error
  })

  fastify.post(TOKEN_PATH, async function token (request: FastifyRequest, reply: FastifyReply) {
    const client: Principal = await authenticateClient(request, reply)
    const grantType = field(request.body, 'grant_type')
    const scope = field(request.body, 'scope')
    request.log.info({ event: 'auth', strategy: 'client', outcome: 'success', principal: client.id, grant: grantType }, 'token request')
    switch (grantType) {
      case 'client_credentials':
        return await options.service.issue(client.id, options.service.narrow(client.permissions, scope))
      case 'refresh_token': {
        const refreshToken = field(request.body, 'refresh_token')
        if (refreshToken === undefined || refreshToken === '') throw new OAuthError('invalid_request', 'refresh_token is required')
        return await options.service.refresh(client.id, refreshToken, scope)
      }
      case undefined:
        throw new OAuthError('invalid_request', 'grant_type is required')
      default:
        throw new OAuthError('unsupported_grant_type', 'supported grant types: client_credentials, refresh_token')
    }
  })

  fastify.post(REVOCATION_PATH, async function revoke (request: FastifyRequest, reply: FastifyReply) {
    const client = await authenticateClient(request, reply)
    const token = field(request.body, 'token')
    if (token === undefined || token === '') throw new OAuthError('invalid_request', 'token is required')
    await options.service.revoke(client.id, token, options.verifyOwnToken(token))
    // RFC 7009 §2.2: the same answer whether or not the token was valid or known.
    return reply.code(200).send({})
  })
}
