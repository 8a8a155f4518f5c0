import { PROMPT_VALUES } from '../plugins/token-issuer/login-sessions.js'
import { PUBLIC_CLIENT_AUTH_METHOD } from '../plugins/token-issuer/code-flow-clients.js'
import { errorBody, MCP_AUTH_NOT_FOUND } from '../core/errors.js'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource'

export interface ResourceLocation {
  /** The public base URL (`server.publicUrl`); without it, the request's own scheme and Host. */
  publicUrl?: string | undefined
  mcpPath: string
  /**
   * Whether the request's Host was checked against a list of names. Without `publicUrl`, URLs
   * are built from the Host only then: an unchecked one is whatever the client wrote.
   */
  hostCheckedByName?: (() => boolean) | undefined
}

function baseUrl (request: FastifyRequest, location: ResourceLocation): string | undefined {
  if (location.publicUrl !== undefined) return location.publicUrl.replace(/\/+$/, '')
  if (location.hostCheckedByName !== undefined && !location.hostCheckedByName()) return undefined
  return `${request.protocol}://${request.host}`
}

/** The canonical URL of the MCP resource (what tokens' `aud` must name, RFC 8707); undefined when no trustworthy base is known. */
export function resourceUrl (request: FastifyRequest, location: ResourceLocation): string | undefined {
  const base = baseUrl(request, location)
  return base === undefined ? undefined : base + location.mcpPath
}

/** Where its RFC 9728 metadata lives: the well-known path with the resource's path appended. */
export function resourceMetadataUrl (request: FastifyRequest, location: ResourceLocation): string | undefined {
  const base = baseUrl(request, location)
  return base === undefined ? undefined : new URL(PROTECTED_RESOURCE_PATH + location.mcpPath, base + '/').href
}

/** Answers 404 (and says once in the log why) when the documents' URLs cannot be trusted. */
function noTrustedBase (log: FastifyBaseLogger): (reply: FastifyReply) => FastifyReply {
  let warned = false
  return (reply) => {
    if (!warned) log.warn('SECURITY: the OAuth metadata documents are not served: without server.publicUrl their URLs would come from an unchecked Host header; set server.publicUrl (or mcp.allowedHosts)')
    warned = true
    return reply.code(404).send(errorBody(new MCP_AUTH_NOT_FOUND('not available: this server has no trustworthy public URL (set server.publicUrl)')))
  }
}

export interface ProtectedResourceOptions extends ResourceLocation {
  authorizationServers: readonly string[]
  scopes: readonly string[]
  resourceName?: string
  /** RFC 9728 §2: this resource accepts certificate-bound tokens (RFC 8705) from its clients. */
  certificateBoundTokens?: boolean
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
  const unavailable = noTrustedBase(fastify.log)
  const metadata = async (request: FastifyRequest, reply: FastifyReply) => {
    const resource = resourceUrl(request, options)
    if (resource === undefined) return unavailable(reply)
    cors(reply).header('cache-control', 'public, max-age=300')
    return {
      resource,
      authorization_servers: options.authorizationServers,
      scopes_supported: options.scopes,
      bearer_methods_supported: ['header'],
      ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
      ...(options.certificateBoundTokens === true ? { tls_client_certificate_bound_access_tokens: true } : {})
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
  hostCheckedByName?: (() => boolean) | undefined
  tokenPath: string
  revocationPath: string
  scopes: readonly string[]
  /** The algorithms of private_key_jwt clients' assertions; empty (the default): that method is not offered. */
  assertionAlgorithms?: readonly string[]
  /** RFC 8705 §3.3: access tokens are bound to the client certificate of the token request. */
  certificateBoundTokens?: boolean
  /** The authorization endpoint (authorization code + PKCE, interactive login), when it is on. */
  authorizationPath?: string | undefined
  /** RFC 7591 dynamic client registration, when it is on. */
  registrationPath?: string | undefined
  /** Clients may use the URL of their metadata document as client_id. */
  clientIdMetadataDocuments?: boolean
}

/** The RFC 8414 fields of the authorization code flow (what MCP clients' SDKs require of it). */
function codeFlowFields (base: string, options: AuthorizationServerOptions): Record<string, unknown> {
  if (options.authorizationPath === undefined) return { response_types_supported: [] }
  return {
    authorization_endpoint: base + options.authorizationPath,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: every authorization response carries `iss`, so clients must check it.
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: options.clientIdMetadataDocuments === true,
    prompt_values_supported: PROMPT_VALUES,
    ...(options.registrationPath === undefined ? {} : { registration_endpoint: base + options.registrationPath })
  }
}

/** RFC 8414 metadata for the built-in token endpoint, so clients can find it from the issuer. */
export async function authorizationServerRoutes (fastify: FastifyInstance, options: AuthorizationServerOptions): Promise<void> {
  const unavailable = noTrustedBase(fastify.log)
  fastify.get('/.well-known/oauth-authorization-server', async (request, reply) => {
    const base = baseUrl(request, { publicUrl: options.publicUrl, mcpPath: '', hostCheckedByName: options.hostCheckedByName })
    if (base === undefined) return unavailable(reply)
    reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300')
    const algorithms = options.assertionAlgorithms ?? []
    const methods = ['client_secret_basic', 'client_secret_post', ...(algorithms.length > 0 ? ['private_key_jwt'] : [])]
    const codeFlow = options.authorizationPath !== undefined
    // Required with private_key_jwt (RFC 8414 §2, and the MCP client-credentials extension).
    const signing = algorithms.length > 0 ? { token_endpoint_auth_signing_alg_values_supported: algorithms, revocation_endpoint_auth_signing_alg_values_supported: algorithms } : {}
    return {
      issuer: options.issuer,
      token_endpoint: base + options.tokenPath,
      revocation_endpoint: base + options.revocationPath,
      grant_types_supported: ['client_credentials', 'refresh_token', ...(codeFlow ? ['authorization_code'] : [])],
      // `none`: public clients of the code flow (PKCE instead of a secret).
      token_endpoint_auth_methods_supported: codeFlow ? [...methods, PUBLIC_CLIENT_AUTH_METHOD] : methods,
      revocation_endpoint_auth_methods_supported: methods,
      ...signing,
      scopes_supported: options.scopes,
      ...(options.certificateBoundTokens === true ? { tls_client_certificate_bound_access_tokens: true } : {}),
      // Without interactive login there is no authorization endpoint: only the client credentials and refresh grants.
      ...codeFlowFields(base, options)
    }
  })
}
