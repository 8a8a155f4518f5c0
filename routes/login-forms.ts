import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FailedAuthThrottled, OAuthError } from '../core/errors.js'
import type { LoginSession, PendingAuthorization } from '../plugins/token-issuer/login-sessions.js'
import type { LoginFlow } from './authorize.js'
import { consentCovers, createCode, grantable } from './login-grant.js'
import { authorizationResponse, formValue, formValues, sameOriginPost, sameSecret, sessionIdOf, setSessionCookie } from './login-http.js'
import { CONSENT_PATH, consentPage, errorPage, LOGIN_PATH, loginPage, pageHeaders } from './login-pages.js'

const FORM_LIMIT = 16 * 1024

type Signed = { id: string, session: LoginSession & { pending: PendingAuthorization } }

function expired (reply: FastifyReply, status: number, message: string): FastifyReply {
  return pageHeaders(reply).code(status).send(errorPage('Start the sign-in again', message))
}

/** The session of a form POST, when it is this site's own form for the session's pending request (CSRF); else undefined. */
async function formSession (request: FastifyRequest, flow: LoginFlow): Promise<Signed | undefined> {
  const id = sessionIdOf(request, flow.secure)
  const session = await flow.login.sessions.read(id)
  const csrf = formValue(request.body, 'csrf') ?? ''
  const pendingId = formValue(request.body, 'request') ?? ''
  // Every check runs, so the answer's timing does not tell which failed.
  const tokenOk = sameSecret(csrf, session?.csrf ?? '')
  const originOk = sameOriginPost(request, flow.origin)
  if (id === undefined || session?.pending === undefined || !tokenOk || !originOk || session.pending.id !== pendingId) return undefined
  return { id, session: { ...session, pending: session.pending } }
}

/** Sends the user back to the client: `params` plus state and iss. The request is done: the session forgets it. */
async function answer (reply: FastifyReply, flow: LoginFlow, signed: Signed, params: Record<string, string>): Promise<FastifyReply> {
  const { pending, ...rest } = signed.session
  await flow.login.sessions.write(signed.id, rest)
  const location = authorizationResponse(pending.redirectUri, { ...params, state: pending.state }, flow.issuer)
  return pageHeaders(reply, pending.redirectUri).redirect(location, 303)
}

async function issueCode (reply: FastifyReply, flow: LoginFlow, signed: Signed, user: string, permissions: string[]): Promise<FastifyReply> {
  return await answer(reply, flow, signed, { code: await createCode(flow, signed.session.pending, user, permissions) })
}

async function login (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow): Promise<FastifyReply> {
  const signed = await formSession(request, flow)
  if (signed === undefined) return expired(reply, 403, 'This sign-in form has expired or did not come from this site. Go back to your application and connect again.')
  const { pending, csrf } = signed.session
  const again = (status: number, error: string): FastifyReply => pageHeaders(reply, pending.redirectUri).code(status)
    .send(loginPage({ csrf, request: pending.id, clientName: pending.clientName, error }))
  const username = formValue(request.body, 'username') ?? ''
  const password = formValue(request.body, 'password') ?? ''
  if (username === '' || password === '') {
    flow.audit.auth(request, { strategy: 'login', outcome: 'failure', reason: 'missing_credentials' })
    return again(401, 'Wrong username or password')
  }
  let user
  try {
    user = await flow.login.users.verify(username, password, flow.throttle === undefined ? undefined : async () => { await flow.throttle?.beforeCostlyCheck(request, `login:${username}`) })
  } catch (error) {
    if (!(error instanceof FailedAuthThrottled)) throw error
    flow.audit.auth(request, { strategy: 'login', outcome: 'throttled', reason: 'too_many_failures' })
    flow.audit.rateLimited(request, 'failed_auth')
    reply.header('retry-after', String(error.retryAfter))
    return again(429, `Too many failed sign-ins. Try again in ${error.retryAfter} seconds.`)
  }
  if (user === undefined) {
    flow.audit.auth(request, { strategy: 'login', outcome: 'failure', reason: 'invalid_credentials' })
    return again(401, 'Wrong username or password')
  }
  flow.audit.auth(request, { strategy: 'login', outcome: 'success', principal: user.username })
  // A new session id at sign-in: one fixed before it (session fixation) is worth nothing after.
  await flow.login.sessions.destroy(signed.id)
  const { reauthenticate: _done, ...signedInFor } = pending
  const created = await flow.login.sessions.create({ user: user.username, pending: signedInFor })
  setSessionCookie(reply, created.id, { secure: flow.secure, maxAge: Math.floor(flow.login.sessions.ttl / 1000) })
  return reply.header('cache-control', 'no-store').redirect(CONSENT_PATH, 303)
}

async function consent (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow): Promise<FastifyReply> {
  const id = sessionIdOf(request, flow.secure)
  const session = await flow.login.sessions.read(id)
  const user = session?.user
  // prompt=login: the sign-in the session had before the request does not count for it.
  if (id === undefined || session?.pending === undefined || user === undefined || session.pending.reauthenticate === true) return expired(reply, 400, 'There is no sign-in in progress. Go back to your application and connect again.')
  const signed: Signed = { id, session: { ...session, pending: session.pending } }
  let permissions: string[]
  try {
    permissions = grantable(flow, session.pending, user)
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error
    return await answer(reply, flow, signed, { error: error.error, error_description: 'none of the requested scopes can be granted to this user and client' })
  }
  if (await consentCovers(flow, session.pending, user, permissions)) return await issueCode(reply, flow, signed, user, permissions)
  await flow.login.sessions.write(id, { ...session, pending: { ...session.pending, permissions } })
  return pageHeaders(reply, session.pending.redirectUri).code(200).send(consentPage({
    csrf: session.csrf,
    request: session.pending.id,
    clientName: session.pending.clientName,
    clientId: session.pending.clientId,
    redirectUri: session.pending.redirectUri,
    user,
    scopes: permissions
  }))
}

async function decide (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow): Promise<FastifyReply> {
  const signed = await formSession(request, flow)
  const user = signed?.session.user
  if (signed === undefined || user === undefined || signed.session.pending.reauthenticate === true) return expired(reply, 403, 'This consent form has expired or did not come from this site. Go back to your application and connect again.')
  const { pending } = signed.session
  const decision = formValue(request.body, 'decision')
  // Only scopes the page offered: a checkbox value added by hand grants nothing.
  const chosen = formValues(request.body, 'scope').filter((scope) => pending.permissions.includes(scope))
  // Deny: exactly error, state and iss (the contract the browser tests check).
  if (decision !== 'allow' || chosen.length === 0) return await answer(reply, flow, signed, { error: 'access_denied' })
  await flow.login.consents.remember(pending.clientId, user, chosen, flow.login.options.consentTtl)
  return await issueCode(reply, flow, signed, user, chosen)
}

/** The login form's POST, the consent page and its POST. */
export async function loginFormRoutes (fastify: FastifyInstance, flow: LoginFlow): Promise<void> {
  fastify.post(LOGIN_PATH, { bodyLimit: FORM_LIMIT }, async (request, reply) => await login(request, reply, flow))
  fastify.get(CONSENT_PATH, async (request, reply) => await consent(request, reply, flow))
  fastify.post(CONSENT_PATH, { bodyLimit: FORM_LIMIT }, async (request, reply) => await decide(request, reply, flow))
}
