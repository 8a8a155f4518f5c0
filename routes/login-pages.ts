import type { FastifyReply, FastifyRequest } from 'fastify'

// The login, consent, signed-out and error pages of the authorization endpoint: server-rendered HTML, no script.

export const LOGIN_PATH = '/oauth/login'
export const CONSENT_PATH = '/oauth/consent'
export const LOGOUT_PATH = '/oauth/logout'

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}' +
  'label{display:block;margin:.75rem 0 .25rem}input[type=text],input:not([type]),input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}' +
  'fieldset{border:1px solid #ccc;padding:.5rem 1rem}fieldset label{margin:.25rem 0}button{margin:1rem .5rem 0 0;padding:.5rem 1.25rem;font:inherit}' +
  '.error{color:#a00000;font-weight:600}.note{color:#555;font-size:.9rem}'

/** HTML-escapes text for element content and double-quoted attributes. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * The headers of every page. `form-action` must also allow the origin the consent form's answer
 * redirects to: browsers apply it to redirects after a form POST (Chromium blocks them otherwise).
 * `Referrer-Policy: same-origin` keeps codes out of Referer, and (unlike no-referrer) keeps the
 * real `Origin` on same-origin form POSTs, which the CSRF check reads.
 */
export function pageHeaders (reply: FastifyReply, redirectUri?: string): FastifyReply {
  const target = redirectUri !== undefined && URL.canParse(redirectUri) ? ` ${new URL(redirectUri).origin}` : ''
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'${target}`)
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('referrer-policy', 'same-origin')
    .header('x-content-type-options', 'nosniff')
}

function page (title: string, body: string): string {
  return '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n<main>\n${body}\n</main>\n</body>\n</html>\n`
}

const hidden = (name: string, value: string): string => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`

export interface LoginPageOptions {
  csrf: string
  request: string
  clientName: string
  error?: string | undefined
}

export function loginPage (options: LoginPageOptions): string {
  const error = options.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(options.error)}</p>\n`
  return page('Sign in', `<h1>Sign in</h1>\n<p>to continue to ${escapeHtml(options.clientName)}</p>\n${error}` +
    `<form method="post" action="${LOGIN_PATH}">\n${hidden('csrf', options.csrf)}\n${hidden('request', options.request)}\n` +
    '<label for="username">Username</label>\n' +
    // Exactly the markup the browser tests (and password managers) look for.
    '<input id="username" name="username" autocomplete="username" autofocus>\n' +
    '<label for="password">Password</label>\n' +
    '<input id="password" name="password" type="password" autocomplete="current-password">\n' +
    '<button type="submit">Sign in</button>\n</form>')
}

export interface ConsentPageOptions {
  csrf: string
  request: string
  clientName: string
  clientId: string
  redirectUri: string
  user: string
  scopes: readonly string[]
}

export function consentPage (options: ConsentPageOptions): string {
  const host = new URL(options.redirectUri).host
  const loopback = /^(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?$/.test(host)
  const scopes = options.scopes.map((scope) =>
    `<label><input type="checkbox" name="scope" value="${escapeHtml(scope)}" checked> ${escapeHtml(scope)}</label>`).join('\n')
  return page(`Allow ${options.clientName}?`, `<h1>Allow ${escapeHtml(options.clientName)} to use your account?</h1>\n` +
    `<p>Signed in as <strong>${escapeHtml(options.user)}</strong>. After you answer, you are sent to <strong>${escapeHtml(host)}</strong>` +
    `${loopback ? ' (an application on this computer)' : ''}.</p>\n<p class="note">Client id: ${escapeHtml(options.clientId)}</p>\n` +
    `<form method="post" action="${CONSENT_PATH}">\n${hidden('csrf', options.csrf)}\n${hidden('request', options.request)}\n` +
    `<fieldset>\n<legend>Permissions</legend>\n${scopes}\n</fieldset>\n` +
    '<button type="submit" name="decision" value="allow">Allow</button>\n' +
    '<button type="submit" name="decision" value="deny">Deny</button>\n</form>\n' +
    `<form method="post" action="${LOGOUT_PATH}">\n${hidden('csrf', options.csrf)}\n` +
    `<p class="note">Not ${escapeHtml(options.user)}? <button type="submit">Sign out</button></p>\n</form>`)
}

export function signedOutPage (): string {
  return page('Signed out', '<h1>You are signed out</h1>\n<p>Close this window, or go back to your application to sign in again.</p>')
}

export function errorPage (title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>`)
}

/** An answer to show the user, never a redirect: the client or its redirect URI cannot be trusted. */
export function refuseWithoutRedirect (request: FastifyRequest, reply: FastifyReply, error: string, message: string): FastifyReply {
  // mcp-remote probes a cached client_id with Accept: application/json, and re-registers on invalid_client.
  if ((request.headers.accept ?? '').includes('application/json')) {
    return reply.code(400).header('cache-control', 'no-store').send({ error, error_description: message })
  }
  return pageHeaders(reply).code(400).send(errorPage('This sign-in link is not valid', message))
}
