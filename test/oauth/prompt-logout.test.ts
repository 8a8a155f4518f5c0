import t, { type Test } from 'tap'
import { buildApp } from '../../app.js'
import { browserTest, signIn } from '../helpers/browser.js'
import { claimsOf, oauthPost } from '../helpers/issuing.js'
import { ADA, BOB, CookieJar, DESKTOP, driveLogin, hiddenField, loginConfig, postForm, REDIRECT_URI } from '../helpers/login.js'
import { authorizeUrl, expectedPageHeaders, loginPage, pageHeadersOf, pkce, submitLogin } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

// The authorization request's `prompt` (none, login; consent is in authorize.test.ts) and sign-out
// at POST /oauth/logout, over HTTP.

async function started (t: Test): Promise<{ server: TestServer, origin: string }> {
  const server = await listen(loginConfig(await freePort()))
  t.teardown(async () => { await server.close() })
  return { server, origin: server.url.origin }
}

/** A browser signed in as `user` with consent given (or denied) once, and its cookies. */
async function signedIn (origin: string, drive: Parameters<typeof driveLogin>[1] = {}): Promise<CookieJar> {
  const jar = new CookieJar()
  await driveLogin(authorizeUrl(origin, pkce().challenge), drive, jar)
  return jar
}

async function authorize (origin: string, cookie: string, overrides: Record<string, string | null>, challenge = pkce().challenge): Promise<Response> {
  return await fetch(authorizeUrl(origin, challenge, overrides), { redirect: 'manual', headers: { cookie } })
}

/** Where a 303 sends the browser: the client's callback and its parameters. */
function sentBack (response: Response): { to: string, params: Record<string, string> } {
  const location = new URL(response.headers.get('location') ?? '', 'http://unset.test')
  return { to: location.origin + location.pathname, params: Object.fromEntries(location.searchParams) }
}

async function exchange (origin: string, code: string, verifier: string): Promise<{ status: number, body: Record<string, unknown> }> {
  return await oauthPost(origin, '/oauth/token', { grant_type: 'authorization_code', code, client_id: DESKTOP.id, redirect_uri: REDIRECT_URI, code_verifier: verifier })
}

async function logout (origin: string, jar: CookieJar, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return await postForm(new URL('/oauth/logout', origin), jar, new URLSearchParams(form), headers)
}

/** The consent page of a signed-in browser (prompt=consent shows it even when consent is remembered). */
async function consentPage (origin: string, jar: CookieJar): Promise<string> {
  const answer = await authorize(origin, jar.header, { prompt: 'consent' })
  const page = await fetch(new URL(answer.headers.get('location') ?? '', origin), { headers: { cookie: jar.header } })
  if (page.status !== 200) throw new Error(`the consent page answered ${page.status}`)
  return await page.text()
}

t.test('the RFC 8414 metadata lists the prompt values acted on', async (t) => {
  const { origin } = await started(t)
  const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
  t.same(metadata.prompt_values_supported, ['none', 'login', 'consent'])
})

t.test('prompt=none without a session: login_required, no page, no cookie', async (t) => {
  const { server, origin } = await started(t)
  const answer = await authorize(origin, '', { prompt: 'none' })
  t.equal(answer.status, 303)
  t.equal(answer.headers.get('set-cookie'), null, 'no session is created')
  t.equal(answer.headers.get('cache-control'), 'no-store')
  const { to, params } = sentBack(answer)
  t.equal(to, REDIRECT_URI)
  t.same([params.error, params.state, params.iss, params.code], ['login_required', 'the-state', origin, undefined])
  t.match(server.logs.records().filter((line) => line.event === 'session'), [{ action: 'silent_authorization', outcome: 'failure', reason: 'login_required', client: DESKTOP.id }])
  const expired = await authorize(origin, 'mcp_login=made-up-or-expired-session-id-0123456789', { prompt: 'none' })
  t.equal(sentBack(expired).params.error, 'login_required', 'a cookie without a live session is no sign-in')
})

t.test('prompt=none signed in, without consent: consent_required', async (t) => {
  const { server, origin } = await started(t)
  const jar = await signedIn(origin, { user: BOB, decision: 'deny' })
  const answer = await authorize(origin, jar.header, { prompt: 'none' })
  t.equal(answer.status, 303)
  const { to, params } = sentBack(answer)
  t.equal(to, REDIRECT_URI)
  t.same([params.error, params.state, params.iss, params.code], ['consent_required', 'the-state', origin, undefined])
  t.match(server.logs.records().filter((line) => line.event === 'session'), [{ action: 'silent_authorization', outcome: 'failure', reason: 'consent_required', principal: BOB.username }])
  const none = await authorize(origin, jar.header, { prompt: 'none', scope: 'calculator:multiply' })
  t.same([sentBack(none).params.error, sentBack(none).params.state], ['invalid_scope', 'the-state'], 'nothing grantable: invalid_scope, as the consent page answers')
})

t.test('prompt=none signed in, consent remembered: a code at once, that works', async (t) => {
  const { server, origin } = await started(t)
  const jar = await signedIn(origin, { scopes: () => ['calculator:add'] })
  const { verifier, challenge } = pkce()
  const answer = await authorize(origin, jar.header, { prompt: 'none', scope: 'calculator:add' }, challenge)
  t.equal(answer.status, 303)
  t.equal(answer.headers.get('set-cookie'), null, 'the session is not touched')
  const { to, params } = sentBack(answer)
  t.equal(to, REDIRECT_URI)
  t.match(params, { code: /^[\w-]{43}$/, state: 'the-state', iss: origin })
  t.equal(params.error, undefined)
  const issued = await exchange(origin, params.code ?? '', verifier)
  t.equal(issued.status, 200)
  t.equal(issued.body.scope, 'calculator:add')
  t.equal(claimsOf(issued.body.access_token).sub, ADA.username)
  t.match(server.logs.records().filter((line) => line.event === 'session'), [{ action: 'silent_authorization', outcome: 'success', principal: ADA.username, client: DESKTOP.id }])
  const wider = await authorize(origin, jar.header, { prompt: 'none', scope: 'calculator:add calculator:multiply' })
  t.same([sentBack(wider).params.error, sentBack(wider).params.state, sentBack(wider).params.iss], ['consent_required', 'the-state', origin], 'consent to fewer scopes than asked for is not enough')
})

t.test('prompt=none with any other value: invalid_request; unknown values are ignored', async (t) => {
  const { origin } = await started(t)
  const jar = await signedIn(origin)
  for (const prompt of ['none login', 'consent none', 'none select_account', 'none  none login']) {
    const answer = await authorize(origin, jar.header, { prompt })
    t.equal(answer.status, 303, prompt)
    const { to, params } = sentBack(answer)
    t.same([to, params.error, params.state, params.iss, params.code], [REDIRECT_URI, 'invalid_request', 'the-state', origin, undefined], prompt)
  }
  t.equal(sentBack(await authorize(origin, jar.header, { prompt: 'none  ' })).params.code?.length, 43, 'spaces around none are no other value')
  const unknown = await authorize(origin, '', { prompt: 'select_account whatever' })
  t.equal(unknown.status, 200, 'unknown values: the login page as without prompt')
  t.match(await unknown.text(), '<button type="submit">Sign in</button>')
  const signedInUnknown = await authorize(origin, jar.header, { prompt: 'whatever' })
  t.equal(signedInUnknown.headers.get('location'), '/oauth/consent', 'signed in: on to consent, as without prompt')
})

t.test('prompt=login: the login page despite a session; the new sign-in replaces it', async (t) => {
  const { server, origin } = await started(t)
  const jar = await signedIn(origin)
  const before = jar.header
  t.equal((await authorize(origin, before, {})).status, 303, 'without prompt, the session skips the login page')
  const { response, html } = await loginPage(authorizeUrl(origin, pkce().challenge, { prompt: 'login' }), jar)
  t.equal(response.status, 200)
  t.match(html, '<button type="submit">Sign in</button>')
  const skipped = await fetch(new URL('/oauth/consent', origin), { redirect: 'manual', headers: { cookie: jar.header } })
  t.equal(skipped.status, 400, 'the consent page does not take the earlier sign-in for this request')
  t.equal(skipped.headers.get('location'), null, 'and no code is sent')

  const { verifier, challenge } = pkce()
  const again = await loginPage(authorizeUrl(origin, challenge, { prompt: 'login' }), jar)
  const signed = await submitLogin(origin, jar, again.html, BOB)
  t.equal(signed.status, 303)
  t.not(jar.header, before, 'a new session id')
  t.equal((await authorize(origin, before, {})).status, 200, 'the earlier session is gone: its cookie gets the login page')
  const page = await fetch(new URL(signed.headers.get('location') ?? '', origin), { redirect: 'manual', headers: { cookie: jar.header } })
  t.equal(page.status, 200, 'bob has not consented yet: the consent page')
  const consent = await page.text()
  t.match(consent, 'Signed in as <strong>bob</strong>')
  const allowed = await postForm(new URL('/oauth/consent', origin), jar, new URLSearchParams({ csrf: hiddenField(consent, 'csrf'), request: hiddenField(consent, 'request'), decision: 'allow', scope: 'calculator:add' }))
  const code = sentBack(allowed).params.code ?? ''
  t.equal(claimsOf((await exchange(origin, code, verifier)).body.access_token).sub, BOB.username, 'the code is for the user who signed in again')
  t.match(server.logs.records().filter((line) => line.event === 'auth'), [
    { strategy: 'login', outcome: 'success', principal: ADA.username },
    { strategy: 'login', outcome: 'success', principal: BOB.username }
  ])
})

t.test('prompt=login with consent remembered: sign in, then a code; login consent: both pages', async (t) => {
  const { origin } = await started(t)
  const jar = await signedIn(origin)
  const { html } = await loginPage(authorizeUrl(origin, pkce().challenge, { prompt: 'login' }), jar)
  const signed = await submitLogin(origin, jar, html, ADA)
  const next = await fetch(new URL(signed.headers.get('location') ?? '', origin), { redirect: 'manual', headers: { cookie: jar.header } })
  t.equal(next.status, 303)
  t.match(sentBack(next).params, { code: /^[\w-]{43}$/, state: 'the-state', iss: origin })
  const both = await loginPage(authorizeUrl(origin, pkce().challenge, { prompt: 'login consent' }), jar)
  t.equal(both.response.status, 200, 'the login page')
  const signedAgain = await submitLogin(origin, jar, both.html, ADA)
  const consent = await fetch(new URL(signedAgain.headers.get('location') ?? '', origin), { redirect: 'manual', headers: { cookie: jar.header } })
  t.equal(consent.status, 200, 'then the consent page, though consent is remembered')
  t.match(await consent.text(), 'value="allow">Allow</button>')
})

t.test('the consent page has a Sign out form with the session\'s CSRF token', async (t) => {
  const { origin } = await started(t)
  const jar = await signedIn(origin)
  const html = await consentPage(origin, jar)
  const form = /<form method="post" action="\/oauth\/logout">\n<input type="hidden" name="csrf" value="([^"]*)">\n<p class="note">Not ada\? <button type="submit">Sign out<\/button><\/p>\n<\/form>/.exec(html)
  t.ok(form, 'the form')
  t.equal(form?.[1], hiddenField(html, 'csrf'), 'the same token as the consent form')
})

t.test('sign-out: the session is deleted, the cookie cleared, the signed-out page', async (t) => {
  const { server, origin } = await started(t)
  const jar = await signedIn(origin)
  const cookie = jar.header
  const html = await consentPage(origin, jar)
  const answer = await logout(origin, jar, { csrf: hiddenField(html, 'csrf') })
  t.equal(answer.status, 200)
  t.same(pageHeadersOf(answer), expectedPageHeaders("'self'"))
  t.equal(answer.headers.get('x-content-type-options'), 'nosniff')
  const [pair, ...attributes] = (answer.headers.get('set-cookie') ?? '').split('; ')
  t.equal(pair, 'mcp_login=', 'the cookie is emptied')
  t.ok(attributes.includes('Max-Age=0') && attributes.includes('Path=/') && attributes.includes('HttpOnly'), attributes.join('; '))
  t.match(await answer.text(), '<h1>You are signed out</h1>')
  t.match(server.logs.records().filter((line) => line.event === 'session'), [{ action: 'logout', outcome: 'success', principal: ADA.username }])

  const after = await authorize(origin, cookie, {})
  t.equal(after.status, 200, 'the old cookie, sent again: the session is gone from the store, so the login page')
  t.match(await after.text(), '<button type="submit">Sign in</button>')
  t.equal(sentBack(await authorize(origin, cookie, { prompt: 'none' })).params.error, 'login_required')
  const twice = await logout(origin, new CookieJar(), { csrf: '' })
  t.equal(twice.status, 200, 'without a session: already signed out, the same page')
})

t.test('sign-out needs the session\'s CSRF token and a same-origin POST; GET does nothing', async (t) => {
  const { server, origin } = await started(t)
  const jar = await signedIn(origin)
  const csrf = hiddenField(await consentPage(origin, jar), 'csrf')
  const form = (...fields: Array<[string, string]>): URLSearchParams => new URLSearchParams(fields)
  const refusals: Array<[string, URLSearchParams, Record<string, string>]> = [
    ['no token', form(), {}],
    ['an empty token', form(['csrf', '']), {}],
    ['a wrong token', form(['csrf', 'x'.repeat(43)]), {}],
    ['the token twice', form(['csrf', csrf], ['csrf', csrf]), {}],
    ['cross-site', form(['csrf', csrf]), { 'sec-fetch-site': 'cross-site' }],
    ['same-site, another origin', form(['csrf', csrf]), { 'sec-fetch-site': 'same-site' }],
    ['a foreign Origin', form(['csrf', csrf]), { origin: 'https://evil.test' }],
    ['Origin null', form(['csrf', csrf]), { origin: 'null' }]
  ]
  for (const [name, body, headers] of refusals) {
    const answer = await postForm(new URL('/oauth/logout', origin), jar, body, headers)
    t.equal(answer.status, 403, name)
    t.equal(answer.headers.get('set-cookie'), null, `${name}: the cookie stays`)
    t.equal(answer.headers.get('x-frame-options'), 'DENY')
  }
  const crossSiteNoSession = await logout(origin, new CookieJar(), {}, { 'sec-fetch-site': 'cross-site' })
  t.equal(crossSiteNoSession.status, 403, 'cross-site is refused with or without a session')
  t.equal(server.logs.records().filter((line) => line.event === 'session' && line.action === 'logout' && line.outcome === 'failure').length, refusals.length + 1)
  const get = await fetch(new URL('/oauth/logout', origin), { redirect: 'manual', headers: { cookie: jar.header } })
  t.equal(get.status, 404, 'no GET route')
  const still = await authorize(origin, jar.header, { prompt: 'none' })
  t.match(sentBack(still).params, { code: /^[\w-]{43}$/, state: 'the-state' }, 'after all that, still signed in')
})

t.test('with an https public URL the cleared cookie is the __Host- one, Secure', async (t) => {
  const app = await buildApp(loginConfig(0, { origin: 'https://calc.test' }))
  t.teardown(async () => { await app.close() })
  const url = authorizeUrl('https://calc.test', pkce().challenge)
  const page = await app.inject({ method: 'GET', url: url.pathname + url.search, headers: { host: 'calc.test' } })
  const cookie = String(page.headers['set-cookie']).split(';')[0] ?? ''
  const answer = await app.inject({
    method: 'POST',
    url: '/oauth/logout',
    headers: { host: 'calc.test', cookie, origin: 'https://calc.test', 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ csrf: hiddenField(page.body, 'csrf') }).toString()
  })
  t.equal(answer.statusCode, 200)
  const [pair, ...attributes] = String(answer.headers['set-cookie']).split('; ')
  t.equal(pair, '__Host-mcp_login=')
  t.same(attributes.filter((attribute) => !attribute.startsWith('Expires=')).sort(), ['HttpOnly', 'Max-Age=0', 'Path=/', 'SameSite=Lax', 'Secure'])
})

browserTest(t, 'Chromium: Sign out on the consent page signs out; the next visit shows the login page', async (t, browser) => {
  const { server, origin } = await started(t)
  const page = await browser.newPage()
  page.setDefaultTimeout(30_000)
  const url = authorizeUrl(origin, pkce().challenge).href
  await page.goto(url)
  await signIn(page, ADA)
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor()
  const [signedOut] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/oauth/logout')), page.getByRole('button', { name: 'Sign out' }).click()])
  t.equal(signedOut.status(), 200, 'the browser\'s own POST passes the CSRF, Fetch Metadata and Origin checks')
  t.equal(await page.locator('h1').textContent(), 'You are signed out')
  t.same((await page.context().cookies(origin)).map((cookie) => cookie.name), [], 'the browser dropped the cookie')
  await page.goto(url)
  t.ok(await page.getByRole('button', { name: 'Sign in' }).isVisible(), 'the login page again')
  t.match(server.logs.records().filter((line) => line.event === 'session'), [{ action: 'logout', outcome: 'success', principal: ADA.username }])
})
