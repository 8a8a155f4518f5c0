import { createHash, randomBytes } from 'node:crypto'
import { CookieJar, DESKTOP, hiddenField, postForm } from './login.js'

export function pkce (): { verifier: string, challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** An authorization URL for the configured public client, with `overrides` (null removes a parameter). */
export function authorizeUrl (origin: URL | string, challenge: string, overrides: Record<string, string | null> = {}): URL {
  const url = new URL('/oauth/authorize', origin)
  const params: Record<string, string | null> = {
    response_type: 'code',
    client_id: DESKTOP.id,
    redirect_uri: 'http://127.0.0.1:9/callback',
    state: 'the-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'calculator:add calculator:multiply',
    ...overrides
  }
  for (const [name, value] of Object.entries(params)) if (value !== null) url.searchParams.set(name, value)
  return url
}

/** The login page of `url`, with the session cookie in `jar`. */
export async function loginPage (url: URL, jar: CookieJar): Promise<{ response: Response, html: string }> {
  const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header } })
  jar.take(response)
  return { response, html: await response.text() }
}

/** Submits the login form of `html` with `fields` (csrf and request taken from the page unless given). */
export async function submitLogin (origin: URL | string, jar: CookieJar, html: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const form = new URLSearchParams({ csrf: hiddenField(html, 'csrf'), request: hiddenField(html, 'request'), ...fields })
  return await postForm(new URL('/oauth/login', origin), jar, form, headers)
}

/** The headers every login, consent and sign-out page carries, as `response` has them. */
export function pageHeadersOf (response: Response): Record<string, string | null> {
  const names = ['content-type', 'content-security-policy', 'x-frame-options', 'cache-control', 'referrer-policy']
  return Object.fromEntries(names.map((name) => [name, response.headers.get(name)]))
}

/** What pageHeadersOf should find; `formAction`: the CSP's form-action sources. */
export function expectedPageHeaders (formAction: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action ${formAction}`,
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    'referrer-policy': 'same-origin'
  }
}
