import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { requestLogAudit, type AuditSink } from '../plugins/audit.js'
import { retryAfterOf } from '../plugins/rate-limits.js'
import type { ClientAssertions } from '../plugins/token-issuer/client-assertion.js'
import { createClientAuthenticator, type ClientEntry } from '../plugins/token-issuer/client-credentials.js'
import { quote, type FailedAuthThrottle } from '../core/authenticator.js'
import { FailedAuthThrottled, MCP_AUTH_HOST_NOT_ALLOWED, OAuthError } from '../core/errors.js'
import type { GrantRequest, TokenService } from '../plugins/token-issuer/token-service.js'
import type { Principal } from '../core/principal.js'
import { thumbprintOf, tlsCertificateOf } from '../plugins/auth/client-certificate.js'
import type { AuthorizationCodes } from '../plugins/token-issuer/authorization-codes.js'
import type { CodeFlowClient, CodeFlowClientDirectory } from '../plugins/token-issuer/code-flow-clients.js'

/**
 * RFC 8707: the `aud` of a token for `resource` (an absolute URI, normalized by WHATWG URL):
 * a string, undefined to keep the deployment's default audience, or false when `resource` is not
 * this server's (`invalid_target`).
 */
export type AudienceFor = (resource: string, request: FastifyRequest) => string | undefined | false

export interface TokenRoutesOptions {
  clients: readonly ClientEntry[]
  /** private_key_jwt (RFC 7523 §2.2) client authentication; without it, assertions are refused. */
  assertions?: ClientAssertions | undefined
  service: TokenService
  /** The claims of an access token this deployment signed, or undefined. */
  verifyOwnToken: (token: string) => Record<string, unknown> | undefined
  /** Which `resource` values name this server; without it every `resource` gets `invalid_target`. */
  audienceFor?: AudienceFor
  realm?: string
  /** The largest request body, in bytes (default 16 KiB: a token request is a few hundred). */
  bodyLimit?: number
  /** Receives every client authentication attempt (default: the request log, failures only). */
  audit?: AuditSink | undefined
  /** The failed-authentication limits, shared with the MCP endpoint's (see plugins/rate-limits.ts). */
  throttle?: FailedAuthThrottle | undefined
  /** RFC 8705: bind access tokens to the TLS client certificate of the token request (required then). */
  certificateBoundTokens?: boolean | undefined
  /** The authorization code grant (interactive login), for public and confidential clients, when it is on. */
  login?: {
    clients: CodeFlowClientDirectory
    codes: AuthorizationCodes
    /** Requests naming a client by its metadata document, per client address (each may make this server fetch it). */
    documentLimit?: { max: number, timeWindow: number } | undefined
  } | undefined
}

export const TOKEN_PATH = '/oauth/token'
export const REVOCATION_PATH = '/oauth/revoke'
export const TOKEN_BODY_LIMIT = 16 * 1024

/**
 * The MCP extension for OAuth client credentials (ext-auth, SEP-1046): servers behind this token
 * endpoint advertise it (value `{}`) in their capabilities, so machine clients know to use it.
 */
export const OAUTH_CLIENT_CREDENTIALS_EXTENSION = 'io.modelcontextprotocol/oauth-client-credentials'

/** The parameters these endpoints read; every other one is ignored (RFC 6749 §3.2). */
const KNOWN = [
  'grant_type', 'scope', 'refresh_token', 'resource', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'token', 'token_type_hint',
  'code', 'redirect_uri', 'code_verifier'
] as const
type Parameter = typeof KNOWN[number]

interface TokenParameters {
  /** A parameter sent once, empty ones as if omitted (RFC 6749 §3.1). */
  get: (name: Exclude<Parameter, 'resource'>) => string | undefined
  /** RFC 8707 allows `resource` more than once. */
  resources: string[]
}

/**
 * The known parameters of a form or JSON body: strings, each at most once (RFC 6749 §3.1), or
 * `invalid_request`. Checked before client authentication, so a malformed request is a 400 even
 * when its client_id is given twice.
 */
function parameters (body: unknown): TokenParameters {
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? body as Record<string, unknown> : {}
  const values = new Map<Parameter, string[]>()
  for (const name of KNOWN) {
    if (!Object.hasOwn(fields, name)) continue
    const value = fields[name]
    // A form gives an array for a repeated parameter; JSON may give one for resource only.
    const list = Array.isArray(value) && name === 'resource' ? value : [value]
    if (Array.isArray(value) && value.length > 1 && name !== 'resource') throw new OAuthError('invalid_request', `${name} must not be given more than once`)
    if (!list.every((item): item is string => typeof item === 'string')) throw new OAuthError('invalid_request', `${name} must be a string`)
    values.set(name, list.filter((item) => item !== ''))
  }
  return { get: (name) => values.get(name)?.[0], resources: values.get('resource') ?? [] }
}

/** RFC 8707 §2: the requested audience, from zero or more `resource` values naming one resource. */
function audience (resources: readonly string[], request: FastifyRequest, audienceFor: AudienceFor | undefined): string | undefined {
  if (resources.length === 0) return undefined
  const targets = new Set(resources.map((resource) => {
    if (resource.includes('#') || !URL.canParse(resource)) throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment')
    return new URL(resource).href
  }))
  if (targets.size > 1) throw new OAuthError('invalid_target', 'a token here is for one resource: give one resource')
  const [target = ''] = targets
  const decided = audienceFor === undefined ? false : audienceFor(target, request)
  if (decided === false) throw new OAuthError('invalid_target', 'resource is not one this server issues tokens for (see its protected resource metadata)')
  return decided
}

/** Fixed texts for the framework's own 4xx errors (body parsing), never echoing the request. */
function describe (error: Error & { code?: string }): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'request body is too large'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return 'send application/x-www-form-urlencoded (or application/json)'
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return 'request body is not valid JSON'
    default: return 'malformed request'
  }
}

type ClientCheck = (request: FastifyRequest, reply: FastifyReply) => Promise<Principal>

/** Client authentication for both endpoints, in one place: every attempt is audited. */
function auditedClientCheck (verifyClient: ClientCheck, audit: AuditSink): ClientCheck {
  return async (request, reply) => {
    try {
      const client = await verifyClient(request, reply)
      audit.auth(request, { strategy: 'client', outcome: 'success', principal: client.id })
      return client
    } catch (error) {
      if (error instanceof FailedAuthThrottled) {
        audit.auth(request, { strategy: 'client', outcome: 'throttled', reason: 'too_many_failures' })
        audit.rateLimited(request, 'failed_auth')
      } else if (error instanceof OAuthError && error.error === 'invalid_client') {
        const body = request.body as Record<string, unknown> | undefined
        const sent = request.headers.authorization !== undefined || body?.client_id !== undefined || body?.client_assertion !== undefined
        audit.auth(request, { strategy: 'client', outcome: 'failure', reason: sent ? 'invalid_credentials' : 'missing_credentials' })
      }
      throw error
    }
  }
}

/** Every refusal in the RFC 6749 §5.2 shape; 5xx left to the app's handler. */
function oauthErrors (realm: string) {
  return function oauthError (error: Error & { statusCode?: number, code?: string }, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (error instanceof OAuthError) {
      if (error.status === 401) reply.header('www-authenticate', `Basic realm=${quote(realm)}, charset="UTF-8"`)
      request.log.info({ event: 'token', outcome: 'refused', reason: error.error }, 'token request refused')
      return reply.code(error.status).send({ error: error.error, error_description: error.description })
    }
    // RFC 6749 has no error for this; 429 and Retry-After say it, in the §5.2 shape.
    if (error instanceof FailedAuthThrottled) {
      return reply.code(429).header('retry-after', String(error.retryAfter)).send({ error: 'temporarily_unavailable', error_description: error.message })
    }
    if (error instanceof MCP_AUTH_HOST_NOT_ALLOWED) {
      return reply.code(403).send({ error: 'invalid_request', error_description: 'Host header not allowed' })
    }
    if (error.statusCode === 503) {
      return reply.code(503).header('retry-after', '1').send({ error: 'temporarily_unavailable', error_description: error.message })
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(400).send({ error: 'invalid_request', error_description: describe(error) })
    }
    throw error
  }
}

/** RFC 8705 §3: the thumbprint of the client certificate the TLS handshake verified; without one, nothing to bind to. */
function requiredThumbprint (request: FastifyRequest): string {
  const tls = tlsCertificateOf(request)
  if (tls.kind !== 'verified') throw new OAuthError('invalid_request', 'this endpoint issues certificate-bound tokens (RFC 8705): connect with a client certificate issued by the configured CA')
  return thumbprintOf(tls.der)
}

/**
 * A public client (token_endpoint_auth_method none): `client_id` in the body naming one, and no
 * client authentication at all. Anything else, and every confidential client of the code flow
 * (a `client_id` alone is not enough for it), is for the client authentication checks.
 */
async function publicClientOf (request: FastifyRequest, params: TokenParameters, login: TokenRoutesOptions['login']): Promise<CodeFlowClient | undefined> {
  const clientId = params.get('client_id')
  if (login === undefined || clientId === undefined || request.headers.authorization !== undefined) return undefined
  if (params.get('client_secret') !== undefined || params.get('client_assertion') !== undefined || params.get('client_assertion_type') !== undefined) return undefined
  const client = await login.clients.find(clientId)
  return client?.confidential === false ? client : undefined
}

/**
 * The grants of a client of the code flow: authorization_code (with PKCE) and refresh_token. A
 * confidential one gets here only once authenticated, and its tokens follow the deployment's
 * certificate binding (`grant`) as its other grants would.
 */
async function codeFlowGrant (request: FastifyRequest, params: TokenParameters, client: CodeFlowClient, options: TokenRoutesOptions & { login: NonNullable<TokenRoutesOptions['login']> }, grant: GrantRequest): Promise<unknown> {
  const grantType = params.get('grant_type')
  request.log.info({ event: 'token', principal: client.id, grant: grantType === 'authorization_code' || grantType === 'refresh_token' ? grantType : 'other' }, 'token request')
  if (grantType === 'refresh_token') {
    const refreshToken = params.get('refresh_token')
    if (refreshToken === undefined) throw new OAuthError('invalid_request', 'refresh_token is required')
    return await options.service.refresh(client.id, refreshToken, grant)
  }
  if (grantType !== 'authorization_code') throw new OAuthError(grantType === undefined ? 'invalid_request' : 'unauthorized_client', 'a client with redirectUris uses grant_type authorization_code (with PKCE) or refresh_token')
  const code = params.get('code')
  if (code === undefined) throw new OAuthError('invalid_request', 'code is required')
  const [resource] = params.resources
  const granted = await options.login.codes.redeem(code, {
    clientId: client.id,
    redirectUri: params.get('redirect_uri'),
    codeVerifier: params.get('code_verifier'),
    resource: resource === undefined ? undefined : new URL(resource).href
  })
  return await options.service.issueForUser({ clientId: client.id, subject: granted.user, family: granted.family, permissions: granted.permissions }, { ...grant, audience: granted.audience })
}

/**
 * The token endpoint (RFC 6749 §4.4 client credentials, §4.1 authorization code, §6 refresh, RFC 8707 resource) and the
 * revocation endpoint (RFC 7009). Bodies are form-encoded or JSON; answers are never cached.
 */
export default async function tokenRoutes (fastify: FastifyInstance, options: TokenRoutesOptions): Promise<void> {
  await fastify.register(formbody)
  // Only forms and JSON carry token requests: a text/plain body is refused, not read as "no parameters".
  fastify.removeContentTypeParser('text/plain')
  const routeOptions = { bodyLimit: options.bodyLimit ?? TOKEN_BODY_LIMIT }

  const audit = options.audit ?? requestLogAudit()
  const authenticateClient = auditedClientCheck(await createClientAuthenticator(fastify, options.clients, options.throttle, options.assertions), audit)

  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  })
  fastify.setErrorHandler(oauthErrors(options.realm ?? 'oauth'))

  const documentLimit = options.login?.documentLimit
  const documentLimiter = documentLimit === undefined ? undefined : fastify.createRateLimit({ ...documentLimit, keyGenerator: (request) => `client-document:${request.ip}` })

  fastify.post(TOKEN_PATH, routeOptions, async function token (request: FastifyRequest, reply: FastifyReply) {
    const params = parameters(request.body)
    const login = options.login
    const clientId = params.get('client_id')
    if (documentLimiter !== undefined && clientId !== undefined && login?.clients.isPublished(clientId) === true) {
      const retryAfter = await retryAfterOf(documentLimiter, request)
      if (retryAfter !== undefined) {
        audit.rateLimited(request, 'client_document')
        return reply.code(429).header('retry-after', String(retryAfter)).send({ error: 'temporarily_unavailable', error_description: 'too many requests naming a client metadata document from this address' })
      }
    }
    const publicClient = await publicClientOf(request, params, login)
    if (publicClient !== undefined && login !== undefined) {
      audit.auth(request, { strategy: 'client', outcome: 'success', principal: publicClient.id, detail: 'public' })
      return await codeFlowGrant(request, params, publicClient, { ...options, login }, { scope: params.get('scope'), audience: audience(params.resources, request, options.audienceFor) })
    }
    const client = await authenticateClient(request, reply)
    const grantType = params.get('grant_type')
    const grant = (): GrantRequest => ({
      scope: params.get('scope'),
      audience: audience(params.resources, request, options.audienceFor),
      ...(options.certificateBoundTokens === true ? { certificateThumbprint: requiredThumbprint(request) } : {})
    })
    // A confidential client of the code flow: its users' grants, never client credentials of its own.
    const codeFlowClient = login === undefined ? undefined : await login.clients.find(client.id)
    if (codeFlowClient?.confidential === true && login !== undefined) return await codeFlowGrant(request, params, codeFlowClient, { ...options, login }, grant())
    const supported = grantType === 'client_credentials' || grantType === 'refresh_token'
    // Only a known grant type is logged: the field is the client's to fill.
    request.log.info({ event: 'token', principal: client.id, grant: supported ? grantType : 'other' }, 'token request')
    if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required')
    if (grantType === 'authorization_code' && login !== undefined) throw new OAuthError('unauthorized_client', 'the authorization code grant is for clients with redirectUris')
    if (!supported) throw new OAuthError('unsupported_grant_type', `supported grant types: client_credentials, refresh_token${login === undefined ? '' : ', authorization_code'}`)
    if (grantType === 'client_credentials') return await options.service.issue(client.id, client.permissions, grant())
    const refreshToken = params.get('refresh_token')
    if (refreshToken === undefined) throw new OAuthError('invalid_request', 'refresh_token is required')
    return await options.service.refresh(client.id, refreshToken, grant())
  })

  fastify.post(REVOCATION_PATH, routeOptions, async function revoke (request: FastifyRequest, reply: FastifyReply) {
    const params = parameters(request.body)
    const client = await authenticateClient(request, reply)
    const token = params.get('token')
    if (token === undefined) throw new OAuthError('invalid_request', 'token is required')
    await options.service.revoke(client.id, token, options.verifyOwnToken(token))
    // RFC 7009 §2.2: the same answer whether or not the token was valid or known.
    return reply.code(200).send({})
  })
}
