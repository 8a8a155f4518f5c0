import { randomBytes } from 'node:crypto'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FailedAuthThrottle } from '../core/authenticator.js'
import { OAuthError } from '../core/errors.js'
import type { ScopeHierarchy } from '../core/permissions.js'
import { requestLogAudit, type AuditSink } from '../plugins/audit.js'
import { retryAfterOf } from '../plugins/rate-limits.js'
import { S256_CHALLENGE } from '../plugins/token-issuer/authorization-codes.js'
import { PROMPT_VALUES, type PendingAuthorization } from '../plugins/token-issuer/login-sessions.js'
import type { LoginFeatures } from '../plugins/token-issuer/plugin.js'
import type { CodeFlowClient } from '../plugins/token-issuer/code-flow-clients.js'
import { isWellFormedScope } from '../plugins/token-issuer/token-service.js'
import { loginFormRoutes } from './login-forms.js'
import { authorizationResponse, sessionIdOf, setSessionCookie } from './login-http.js'
import { CONSENT_PATH, errorPage, loginPage, pageHeaders, refuseWithoutRedirect } from './login-pages.js'
import { authorizeWithoutPage } from './login-silent.js'
import { logoutRoutes } from './logout.js'
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

/** Which of PROMPT_VALUES the request gave. */
type Prompt = Record<typeof PROMPT_VALUES[number], boolean>

function promptOf (query: unknown): Prompt {
  const values = new Set((queryParameter(query, 'prompt') ?? '').split(' ').filter((value) => value !== ''))
  const prompt: Prompt = { none: false, login: false, consent: false }
  for (const name of PROMPT_VALUES) prompt[name] = values.has(name)
  if (prompt.none && values.size > 1) throw new OAuthError('invalid_request', 'prompt=none must not be combined with other values')
  return prompt
}

/** The checks after the client and redirect URI are known good: each failure goes back to the client. */
function pendingRequest (request: FastifyRequest, client: CodeFlowClient, redirectUri: string, flow: LoginFlow, prompt: Prompt): PendingAuthorization {
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
  return {
    id: randomBytes(16).toString('base64url'),
    clientId: client.id,
    clientName: client.name,
    redirectUri,
    state,
    codeChallenge: challenge,
    permissions: [],
    ...resourceOf(request, flow),
    forceConsent: prompt.consent,
    ...(prompt.login ? { reauthenticate: true } : {}),
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
  let client: CodeFlowClient | undefined
  try {
    client = clientId === undefined ? undefined : await clients.find(clientId)
  } catch (error) {
    // A client ID metadata document that could not be fetched or used: its reason is the answer.
    if (!(error instanceof OAuthError)) throw error
    // The host only: a refused URL may carry credentials.
    const host = clientId !== undefined && URL.canParse(clientId) ? new URL(clientId).host : undefined
    request.log.info({ event: 'client_metadata', outcome: 'refused', host, reason: error.description }, 'client metadata document refused')
    return refuseWithoutRedirect(request, reply, error.error, error.description)
  }
  if (client === undefined) return refuseWithoutRedirect(request, reply, 'invalid_client', 'unknown client_id: the application is not registered here')
  if (redirectUri === undefined || !clients.allowsRedirect(client, redirectUri)) {
    return refuseWithoutRedirect(request, reply, 'invalid_request', 'redirect_uri is missing or not one registered for this application')
  }
  let pending: PendingAuthorization
  let prompt: Prompt
  try {
    prompt = promptOf(request.query)
    pending = pendingRequest(request, client, redirectUri, flow, prompt)
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error
    // A registered or published client chose its own redirect URIs: no redirect before the user sees a page.
    if (!client.configured) return refuseWithoutRedirect(request, reply, error.error, error.description)
    const state = (() => { try { return queryParameter(request.query, 'state') } catch { return undefined } })()
    return reply.header('cache-control', 'no-store').redirect(authorizationResponse(redirectUri, { error: error.error, error_description: error.description, state }, flow.issuer), 303)
  }
  if (prompt.none) return await authorizeWithoutPage(request, reply, flow, pending, client.configured)
  const id = sessionIdOf(request, flow.secure)
  const session = await sessions.read(id)
  if (id !== undefined && session?.user !== undefined && !prompt.login) {
    await sessions.write(id, { ...session, pending })
    return reply.header('cache-control', 'no-store').redirect(CONSENT_PATH, 303)
  }
  // A session from an earlier visit is reused (a page reload costs no new store entry). Under
  // prompt=login its user stays signed in for other requests; this one waits for a new sign-in.
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
 * RFC 8707 `resource`, OIDC's `prompt`) and its login, consent and sign-out pages. A bad
 * client_id or redirect_uri gets a page of its own, never a redirect; every other error goes back
 * to the client's redirect URI.
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
  const { max, timeWindow } = options.login.options.authorizeLimit
  const limiter = fastify.createRateLimit({ max, timeWindow, keyGenerator: (request) => `authorize:${request.ip}` })
  fastify.get(AUTHORIZE_PATH, async (request, reply) => {
    const retryAfter = await retryAfterOf(limiter, request)
    if (retryAfter !== undefined) {
      flow.audit.rateLimited(request, 'authorize')
      return pageHeaders(reply).code(429).header('retry-after', String(retryAfter))
        .send(errorPage('Too many sign-in attempts', 'Too many requests from this address. Wait a minute, then try again.'))
    }
    return await authorize(request, reply, flow)
  })
  await fastify.register(loginFormRoutes, flow)
  await fastify.register(logoutRoutes, flow)
}
