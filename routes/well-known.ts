import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource'

export interface ResourceLocation {
  /** The public base URL (`server.publicUrl`); without it, the request's own scheme and Host. */
  publicUrl?: string | undefined
  mcpPath: string
}

function baseUrl (request: FastifyRequest, location: ResourceLocation): string {
  return (location.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '')
}

/** The canonical URL of the MCP resource (what tokens' `aud` must name, RFC 8707). */
export function resourceUrl (request: FastifyRequest, location: ResourceLocation): string {
  return baseUrl(request, location) + location.mcpPath
}

/** Where its RFC 9728 metadata lives: the well-known path with the resource's path appended. */
export function resourceMetadataUrl (request: FastifyRequest, location: ResourceLocation): string {
  return new URL(PROTECTED_RESOURCE_PATH + location.mcpPath, baseUrl(request, location) + '/').href
}

export interface ProtectedResourceOptions extends ResourceLocation {
  authorizationServers: readonly string[]
  scopes: readonly string[]
  resourceName?: string
}

/**
 * RFC 9728 protected resource metadata, so MCP clients can discover which authorization server
 * issues tokens for this server. Public (no auth) and readable cross-origin, as the spec expects
 * browser-based clients to fetch it.
 */
export default async function wellKnownRoutes (fastify: FastifyInstance, options: ProtectedResourceOptions): Promise<void> {
  const cors = (reply: FastifyReply): FastifyReply => reply
    .header('access-control-allow-origin', '*')
    .header('access-control-allow-methods', 'GET, OPTIONS')
    .header('access-control-allow-headers', '*')
  const metadata = async (request: FastifyRequest, reply: FastifyReply) => {
    cors(reply).header('cache-control', 'public, max-age=300')
    return {
      resource: resourceUrl(request, options),
      authorization_servers: options.authorizationServers,
      scopes_supported: options.scopes,
      bearer_methods_supported: ['header'],
      ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName })
    }
  }
  const preflight = async (_request: FastifyRequest, reply: FastifyReply) => cors(reply).code(204).send()
  for (const path of new Set([PROTECTED_RESOURCE_PATH, PROTECTED_RESOURCE_PATH + options.mcpPath])) {
    fastify.get(path, metadata)
    fastify.options(path, preflight)
  }
}

export interface AuthorizationServerOptions {
  issuer: string
  publicUrl?: string | undefined
  tokenPath: string
  revocationPath: string
  scopes: readonly string[]
}

/** RFC 8414 metadata for the built-in token endpoint, so clients can find it from the issuer. */
export async function authorizationServerRoutes (fastify: FastifyInstance, options: AuthorizationServerOptions): Promise<void> {
  fastify.get('/.well-known/oauth-authorization-server', async (request, reply) => {
    reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300')
    const base = baseUrl(request, { publicUrl: options.publicUrl, mcpPath: '' })
    const methods = ['client_secret_basic', 'client_secret_post']
    return {
      issuer: options.issuer,
      token_endpoint: base + options.tokenPath,
      revocation_endpoint: base + options.revocationPath,
      grant_types_supported: ['client_credentials', 'refresh_token'],
      token_endpoint_auth_methods_supported: methods,
      revocation_endpoint_auth_methods_supported: methods,
      scopes_supported: options.scopes,
      // There is no authorization endpoint: only the client credentials and refresh grants.
      response_types_supported: []
    }
  })
}
