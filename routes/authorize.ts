import { randomBytes } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FailedAuthThrottle } from '../core/authenticator.js'
import { OAuthError } from '../core/errors.js'
import type { ScopeHierarchy } from '../core/permissions.js'
import { requestLogAudit, type AuditSink } from '../plugins/audit.js'
import { S256_CHALLENGE } from '../plugins/token-issuer/authorization-codes.js'
import type { PendingAuthorization } from '../plugins/token-issuer/login-sessions.js'
import type { LoginFeatures } from '../plugins/token-issuer/plugin.js'
import type { CodeFlowClient } from '../plugins/token-issuer/code-flow-clients.js'
import { isWellFormedScope } from '../plugins/token-issuer/token-service.js'
import { loginFormRoutes } from './login-forms.js'
import { authorizationResponse, sessionIdOf, setSessionCookie } from './login-http.js'
import { CONSENT_PATH, errorPage, loginPage, pageHeaders } from './login-pages.js'
import type { AudienceFor } from './token.js'

export const AUTHORIZE_PATH = '/oauth/authorize'

export interface AuthorizeRoutesOptions {
  /** The issuer of the tokens: RFC 9207's `iss` in every authorization response. */
  issuer: string
  /** The origin of the login pages (server.publicUrl's), for the CSRF check of their forms. */
  origin: string
  login: LoginFeatures
  audienceFor?: AudienceFor | undefined
  scopeHierarchy?: ScopeHierarchy | undefined
  audit?: AuditSink | undefined
  throttle?: FailedAuthThrottle | undefined
}

/** Settings the login routes share. */
export interface LoginFlow extends AuthorizeRoutesOptions {
  audit: AuditSink
  secure: boolean
}

/** A parameter given at most once: its value, or undefined; a repeated one is an error (RFC 6749 §3.1). */
function queryParameter (query: unknown, name: string): string | undefined {
  const value = (typeof query === 'object' && query !== null ? query as Record<string, unknown> : {})[name]
  if (Array.isArray(value)) throw new OAuthError('invalid_request', `${name} must not be given more than once`)
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** An answer to show the user, never a redirect: the client or its redirect URI cannot be trusted. */
function refuseWithoutRedirect (request: FastifyRequest, reply: FastifyReply, error: string, message: string): FastifyReply {
  // mcp-remote probes a cached client_id with Accept: application/json, and re-registers on invalid_client.
  if ((request.headers.accept ?? '').includes('application/json')) {
    return reply.code(400).header('cache-control', 'no-store').send({ error, error_description: message })
  }
  return pageHeaders(reply).code(400).send(errorPage('This sign-in link is not valid', message))
}

/** RFC 8707: the resource the code (and so its tokens) is for, and the `aud` that gives. */
function resourceOf (request: FastifyRequest, flow: LoginFlow): { resource?: string, audience?: string } {
  const resource = queryParameter(request.query, 'resource')
  if (resource === undefined) return {}
  if (resource.includes('#') || !URL.canParse(resource)) throw new OAuthError('invalid_target', 'resource must be an absolute URI without a fragment')
  const normalized = new URL(resource).href
  const audience = flow.audienceFor?.(normalized, request) ?? false
  if (audience === false) throw new OAuthError('invalid_target', 'resource is not one this server issues tokens for')
  return { resource: normalized, ...(audience === undefined ? {} : { audience }) }
}

/** The checks after the client and redirect URI are known good: each failure goes back to the client. */
function pendingRequest (request: FastifyRequest, client: CodeFlowClient, redirectUri: string, flow: LoginFlow): PendingAuthorization {
  const query = request.query
  const state = queryParameter(query, 'state')
  if (queryParameter(query, 'response_type') !== 'code') throw new OAuthError('unsupported_response_type', 'response_type must be code')
  if (state === undefined) throw new OAuthError('invalid_request', 'state is required')
  const challenge = queryParameter(query, 'code_challenge')
  if (challenge === undefined) throw new OAuthError('invalid_request', 'PKCE is required: send code_challenge with code_challenge_method=S256')
  if (queryParameter(query, 'code_challenge_method') !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256 (plain is refused)')
  if (!S256_CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be 43 base64url characters (S256)')
  const scope = queryParameter(query, 'scope')
  if (scope !== undefined && !isWellFormedScope(scope)) throw new OAuthError('invalid_scope', 'scope is malformed: space-separated scope tokens (RFC 6749 §3.3)')
  const prompt = (queryParameter(query, 'prompt') ?? '').split(' ')
  return {
    id: randomBytes(16).toString('base64url'),
    clientId: client.id,
    clientName: client.name,
    redirectUri,
    state,
    codeChallenge: challenge,
    permissions: [],
    ...resourceOf(request, flow),
    forceConsent: prompt.includes('consent'),
    ...(scope === undefined ? {} : { scope })
  }
}

async function authorize (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow): Promise<FastifyReply> {
  const { clients, sessions } = flow.login
  let clientId: string | undefined
  let redirectUri: string | undefined
  try {
    clientId = queryParameter(request.query, 'client_id')
    redirectUri = queryParameter(request.query, 'redirect_uri')
  } catch (error) {
    return refuseWithoutRedirect(request, reply, 'invalid_request', error instanceof Error ? error.message : 'malformed request')
  }
  const client = clientId === undefined ? undefined : await clients.find(clientId)
  if (client === undefined) return refuseWithoutRedirect(request, reply, 'invalid_client', 'unknown client_id: the application is not registered here')
  if (redirectUri === undefined || !clients.allowsRedirect(client, redirectUri)) {
    return refuseWithoutRedirect(request, reply, 'invalid_request', 'redirect_uri is missing or not one registered for this application')
  }
  let pending: PendingAuthorization
  try {
    pending = pendingRequest(request, client, redirectUri, flow)
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error
    const state = (() => { try { return queryParameter(request.query, 'state') } catch { return undefined } })()
    return reply.header('cache-control', 'no-store').redirect(authorizationResponse(redirectUri, { error: error.error, error_description: error.description, state }, flow.issuer), 303)
  }
  const id = sessionIdOf(request, flow.secure)
  const session = await sessions.read(id)
  if (id !== undefined && session?.user !== undefined) {
    await sessions.write(id, { ...session, pending })
    return reply.header('cache-control', 'no-store').redirect(CONSENT_PATH, 303)
  }
  // A session from an earlier visit is reused (a page reload costs no new store entry).
  let csrf = session?.csrf
  if (id !== undefined && session !== undefined) {
    await sessions.write(id, { ...session, pending })
  } else {
    const created = await sessions.create({ pending })
    setSessionCookie(reply, created.id, { secure: flow.secure, maxAge: Math.floor(sessions.ttl / 1000) })
    csrf = created.session.csrf
  }
  return pageHeaders(reply, redirectUri).code(200).send(loginPage({ csrf: csrf ?? '', request: pending.id, clientName: client.name }))
}

/**
 * The authorization endpoint (OAuth 2.1 authorization code with PKCE S256, RFC 9207 `iss`,
 * RFC 8707 `resource`) and its login and consent pages. A bad client_id or redirect_uri gets a
 * page of its own, never a redirect; every other error goes back to the client's redirect URI.
 */
export default async function authorizeRoutes (fastify: FastifyInstance, options: AuthorizeRoutesOptions): Promise<void> {
  await fastify.register(formbody)
  await fastify.register(cookie)
  const flow: LoginFlow = { ...options, audit: options.audit ?? requestLogAudit(), secure: options.origin.startsWith('https:') }
  fastify.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? 500
    if (status >= 500) throw error
    return pageHeaders(reply).code(status === 413 ? 413 : 400).send(errorPage('Bad request', status === 413 ? 'The form is too large.' : 'The request could not be read.'))
  })
  fastify.get(AUTHORIZE_PATH, async (request, reply) => await authorize(request, reply, flow))
  await fastify.register(loginFormRoutes, flow)
}
