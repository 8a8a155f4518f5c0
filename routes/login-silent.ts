import type { FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../core/errors.js'
import type { PendingAuthorization } from '../plugins/token-issuer/login-sessions.js'
import type { LoginFlow } from './authorize.js'
import { consentCovers, createCode, grantable } from './login-grant.js'
import { authorizationResponse, sessionIdOf } from './login-http.js'
import { pageHeaders, refuseWithoutRedirect } from './login-pages.js'

/**
 * `prompt=none` (OIDC Core §3.1.2.1): no page is shown. A code when the browser's session is
 * signed in and the user's remembered consent covers the request; else `login_required` or
 * `consent_required` (or `invalid_scope`, as the consent page would answer). The session is
 * neither created nor changed: a silent check leaves no trace in the browser. A client that is not
 * configured (`redirectErrors` false) gets its refusals on a page, not at its redirect URI: anyone
 * can register or publish one, and a silent redirect to it would make this server an open redirector.
 */
export async function authorizeWithoutPage (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow, pending: PendingAuthorization, redirectErrors: boolean): Promise<FastifyReply> {
  const back = (params: Record<string, string>): FastifyReply => pageHeaders(reply, pending.redirectUri)
    .redirect(authorizationResponse(pending.redirectUri, { ...params, state: pending.state }, flow.issuer), 303)
  const refuse = (error: string, description: string, user?: string): FastifyReply => {
    flow.audit.session?.(request, { action: 'silent_authorization', outcome: 'failure', reason: error, client: pending.clientId, ...(user === undefined ? {} : { principal: user }) })
    return redirectErrors ? back({ error, error_description: description }) : refuseWithoutRedirect(request, reply, error, description)
  }
  const user = (await flow.login.sessions.read(sessionIdOf(request, flow.secure)))?.user
  if (user === undefined) return refuse('login_required', 'the user is not signed in')
  let permissions: string[]
  try {
    permissions = grantable(flow, pending, user)
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error
    return refuse(error.error, 'none of the requested scopes can be granted to this user and client', user)
  }
  if (!await consentCovers(flow, pending, user, permissions)) return refuse('consent_required', 'the user has not allowed this client these scopes', user)
  const code = await createCode(flow, pending, user, permissions)
  flow.audit.session?.(request, { action: 'silent_authorization', outcome: 'success', principal: user, client: pending.clientId })
  return back({ code })
}
