import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { LoginFlow } from './authorize.js'
import { clearSessionCookie, formValue, sameOriginPost, sameSecret, sessionIdOf } from './login-http.js'
import { errorPage, LOGOUT_PATH, pageHeaders, signedOutPage } from './login-pages.js'

const FORM_LIMIT = 4 * 1024

/**
 * Sign-out: the session is deleted from the store and its cookie cleared. A POST only, from this
 * site's own form with the session's CSRF token (so another site cannot sign a user out). A
 * browser without a live session is already signed out: it gets the same page.
 */
async function logout (request: FastifyRequest, reply: FastifyReply, flow: LoginFlow): Promise<FastifyReply> {
  const id = sessionIdOf(request, flow.secure)
  const session = await flow.login.sessions.read(id)
  // Both checks run, so the answer's timing does not tell which failed.
  const tokenOk = sameSecret(formValue(request.body, 'csrf') ?? '', session?.csrf ?? '')
  const originOk = sameOriginPost(request, flow.origin)
  const principal = session?.user === undefined ? {} : { principal: session.user }
  if (!originOk || (session !== undefined && !tokenOk)) {
    flow.audit.session?.(request, { action: 'logout', outcome: 'failure', reason: 'csrf', ...principal })
    return pageHeaders(reply).code(403).send(errorPage('Sign-out refused', 'This sign-out form has expired or did not come from this site. Nothing was changed.'))
  }
  if (id !== undefined) await flow.login.sessions.destroy(id)
  if (session !== undefined) flow.audit.session?.(request, { action: 'logout', outcome: 'success', ...principal })
  clearSessionCookie(reply, flow.secure)
  return pageHeaders(reply).code(200).send(signedOutPage())
}

/** POST /oauth/logout (no GET: following a link must not sign anyone out). */
export async function logoutRoutes (fastify: FastifyInstance, flow: LoginFlow): Promise<void> {
  fastify.post(LOGOUT_PATH, { bodyLimit: FORM_LIMIT }, async (request, reply) => await logout(request, reply, flow))
}
