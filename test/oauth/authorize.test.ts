import t, { type Test } from 'tap'
import { ADA, BOB, CookieJar, DESKTOP, driveLogin, hiddenField, loginConfig, postForm, type LoginConfigOptions } from '../helpers/login.js'
import { authorizeUrl, expectedPageHeaders, loginPage, pageHeadersOf, pkce, submitLogin } from '../helpers/pkce.js'
import { buildApp } from '../../app.js'
import { claimsOf, oauthPost } from '../helpers/issuing.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

/** A Set-Cookie header's cookie name (its value must be a URL-safe random id) and its attributes, sorted. */
function cookieParts (header: string | null): { name: string, attributes: string[] } | undefined {
  const [pair = '', ...attributes] = (header ?? '').split('; ')
  const match = /^([\w-]+)=[\w-]{20,}$/.exec(pair)
  return match?.[1] === undefined ? undefined : { name: match[1], attributes: attributes.sort() }
}

// The authorization endpoint over HTTP: the pages' contract (the browser tests rely on it), and
// what it refuses.

async function started (t: Test, options: LoginConfigOptions = {}): Promise<{ server: TestServer, origin: string }> {
  const port = await freePort()
  const server = await listen(loginConfig(port, options))
  t.teardown(async () => { await server.close() })
  return { server, origin: server.url.origin }
}

async function exchange (origin: string, code: string, verifier: string | null, extra: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  return await oauthPost(origin, '/oauth/token', {
    grant_type: 'authorization_code', code, client_id: DESKTOP.id, redirect_uri: 'http://127.0.0.1:9/callback', ...(verifier === null ? {} : { code_verifier: verifier }), ...extra
  })
}

t.test('RFC 8414 metadata advertises the code flow', async (t) => {
  const { origin } = await started(t)
  const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
  t.match(metadata, {
    issuer: origin,
    authorization_endpoint: `${origin}/oauth/authorize`,
    registration_endpoint: `${origin}/oauth/register`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true
  })
  t.ok((metadata.grant_types_supported as string[]).includes('authorization_code'))
  t.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes('none'))
  t.notOk(JSON.stringify(metadata).includes('offline_access'), 'never offline_access')
})

t.test('the login page: markup, headers, cookie', async (t) => {
  const { origin } = await started(t)
  const { response, html } = await loginPage(authorizeUrl(origin, pkce().challenge), new CookieJar())
  t.equal(response.status, 200)
  t.same(pageHeadersOf(response), expectedPageHeaders("'self' http://127.0.0.1:9"))
  t.same(cookieParts(response.headers.get('set-cookie')), { name: 'mcp_login', attributes: ['HttpOnly', 'Max-Age=600', 'Path=/', 'SameSite=Lax'] })
  t.match(html, '<html lang="en">')
  t.match(html, /<form method="post"[^>]*>/)
  for (const markup of [
    '<label for="username">Username</label>',
    '<input id="username" name="username" autocomplete="username" autofocus>',
    '<label for="password">Password</label>',
    '<input id="password" name="password" type="password" autocomplete="current-password">',
    '<button type="submit">Sign in</button>'
  ]) t.ok(html.includes(markup), markup)
})

t.test('with an https public URL the cookie is Secure and __Host- prefixed', async (t) => {
  const app = await buildApp(loginConfig(0, { origin: 'https://calc.test' }))
  t.teardown(async () => { await app.close() })
  const url = authorizeUrl('https://calc.test', pkce().challenge)
  const answer = await app.inject({ method: 'GET', url: url.pathname + url.search, headers: { host: 'calc.test' } })
  t.equal(answer.statusCode, 200)
  t.same(cookieParts(String(answer.headers['set-cookie'])), { name: '__Host-mcp_login', attributes: ['HttpOnly', 'Max-Age=600', 'Path=/', 'SameSite=Lax', 'Secure'] })
})

t.test('a wrong password: 401 and the page again; audited without the password', async (t) => {
  const { server, origin } = await started(t)
  const jar = new CookieJar()
  const { html } = await loginPage(authorizeUrl(origin, pkce().challenge), jar)
  const answer = await submitLogin(origin, jar, html, { username: ADA.username, password: 'not the password' })
  t.equal(answer.status, 401)
  t.match(await answer.text(), 'Wrong username or password')
  t.match(server.logs.records().filter((line) => line.event === 'auth'), [{ strategy: 'login', outcome: 'failure', reason: 'invalid_credentials' }])
  t.notOk(server.logs.text.includes('not the password'), 'no password in the log')
})

t.test('the consent page; Allow and Deny', async (t) => {
  const { origin } = await started(t)
  const jar = new CookieJar()
  const { html } = await loginPage(authorizeUrl(origin, pkce().challenge), jar)
  const signedIn = await submitLogin(origin, jar, html, ADA)
  t.equal(signedIn.status, 303)
  t.match(signedIn.headers.get('set-cookie'), /^mcp_login=/, 'a new session id at sign-in')
  const page = await fetch(new URL(signedIn.headers.get('location') ?? '', origin), { headers: { cookie: jar.header } })
  const consent = await page.text()
  t.equal(page.status, 200)
  t.match(consent, /<h1>[^<]*Desktop Calculator[^<]*<\/h1>/)
  t.match(consent, '127.0.0.1:9', 'the redirect URI\'s host is shown')
  for (const scope of ['calculator:add', 'calculator:multiply']) {
    t.match(consent, new RegExp(`<label><input type="checkbox" name="scope" value="${scope}" checked> ${scope}</label>`))
  }
  t.ok(consent.includes('<button type="submit" name="decision" value="allow">Allow</button>'))
  t.ok(consent.includes('<button type="submit" name="decision" value="deny">Deny</button>'))
  const denied = await postForm(new URL('/oauth/consent', origin), jar, new URLSearchParams({ csrf: hiddenField(consent, 'csrf'), request: hiddenField(consent, 'request'), decision: 'deny' }))
  t.equal(denied.status, 303)
  const location = new URL(denied.headers.get('location') ?? '')
  t.equal(location.origin + location.pathname, 'http://127.0.0.1:9/callback')
  t.equal(location.search, `?error=access_denied&state=the-state&iss=${encodeURIComponent(origin)}`, 'exactly error, state and iss')
  const allowed = await driveLogin(authorizeUrl(origin, pkce().challenge))
  t.match(Object.fromEntries(allowed.searchParams), { code: /^[\w-]{43}$/, state: 'the-state', iss: origin })
})

t.test('an unknown client or an unregistered redirect_uri: an error page, never a redirect', async (t) => {
  const { origin } = await started(t)
  const { challenge } = pkce()
  const refused: Array<Record<string, string | null>> = [
    { client_id: 'nobody' },
    { client_id: null },
    { redirect_uri: null },
    { redirect_uri: 'https://app.example.com.evil.test/cb' },
    { redirect_uri: 'https://app.example.com/cb/../evil' },
    { redirect_uri: 'https://app.example.com/cb?x=1' },
    { redirect_uri: 'https://app.example.com/CB' },
    { redirect_uri: 'https://app.example.com:8443/cb' },
    { redirect_uri: 'https://evil.test/cb' },
    { redirect_uri: 'javascript:alert(1)//127.0.0.1/callback' },
    { redirect_uri: 'http://127.0.0.1:9/callback/../x' },
    { redirect_uri: 'http://127.0.0.1.evil.test:9/callback' },
    { redirect_uri: 'http://localhost:9/callback' }
  ]
  for (const overrides of refused) {
    const answer = await fetch(authorizeUrl(origin, challenge, overrides), { redirect: 'manual' })
    t.equal(answer.status, 400, JSON.stringify(overrides))
    t.equal(answer.headers.get('location'), null, 'no redirect')
    t.match(await answer.text(), 'This sign-in link is not valid')
  }
  const probe = await fetch(authorizeUrl(origin, challenge, { client_id: 'dyn_gone' }), { redirect: 'manual', headers: { accept: 'application/json' } })
  t.equal(probe.status, 400)
  t.match(await probe.json(), { error: 'invalid_client' }, 'mcp-remote\'s probe of a stale registration')
  const anyPort = await fetch(authorizeUrl(origin, challenge, { redirect_uri: 'http://127.0.0.1:51234/callback' }), { redirect: 'manual' })
  t.equal(anyPort.status, 200, 'a loopback redirect URI matches with any port')
})

t.test('other errors go back to the client with error, state and iss', async (t) => {
  const { origin } = await started(t)
  const { challenge } = pkce()
  const cases: Array<[Record<string, string | null>, string]> = [
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ code_challenge: null }, 'invalid_request'],
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ code_challenge_method: null }, 'invalid_request'],
    [{ code_challenge: 'short' }, 'invalid_request'],
    [{ resource: 'https://elsewhere.test/mcp' }, 'invalid_target'],
    [{ scope: 'bad"scope' }, 'invalid_scope']
  ]
  for (const [overrides, error] of cases) {
    const answer = await fetch(authorizeUrl(origin, challenge, overrides), { redirect: 'manual' })
    t.equal(answer.status, 303, JSON.stringify(overrides))
    const location = new URL(answer.headers.get('location') ?? '')
    t.same([location.origin + location.pathname, location.searchParams.get('error'), location.searchParams.get('state'), location.searchParams.get('iss')], ['http://127.0.0.1:9/callback', error, 'the-state', origin])
  }
  const stateless = await fetch(authorizeUrl(origin, challenge, { state: null }), { redirect: 'manual' })
  const location = new URL(stateless.headers.get('location') ?? '')
  t.same([location.searchParams.get('error'), location.searchParams.has('state'), location.searchParams.get('iss')], ['invalid_request', false, origin], 'state is required')
})

t.test('the code exchange: PKCE, redirect_uri, single use; a replay revokes what the code issued', async (t) => {
  const { server, origin } = await started(t)
  const code = async (verifierChallenge: string): Promise<string> => (await driveLogin(authorizeUrl(origin, verifierChallenge))).searchParams.get('code') ?? ''
  const first = pkce()
  t.match(await exchange(origin, await code(first.challenge), pkce().verifier), { status: 400, body: { error: 'invalid_grant' } }, 'another verifier')
  t.match(await exchange(origin, await code(first.challenge), null), { status: 400, body: { error: 'invalid_grant' } }, 'no verifier')
  t.match(await exchange(origin, await code(first.challenge), first.verifier, { redirect_uri: 'http://127.0.0.1:10/callback' }), { status: 400, body: { error: 'invalid_grant' } }, 'another redirect_uri')
  const wrongThenRight = await code(first.challenge)
  await exchange(origin, wrongThenRight, 'x'.repeat(43))
  t.match(await exchange(origin, wrongThenRight, first.verifier), { status: 400, body: { error: 'invalid_grant' } }, 'a refused exchange uses the code up')
  t.match(await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', client_id: DESKTOP.id }), { status: 400, body: { error: 'unauthorized_client' } }, 'a public client has no client credentials grant')

  const good = await code(first.challenge)
  const issued = await exchange(origin, good, first.verifier)
  t.equal(issued.status, 200)
  t.match(issued.body, { token_type: 'Bearer', scope: 'calculator:add calculator:multiply' })
  const call = async (): Promise<number> => (await fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${String(issued.body.access_token)}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } })
  })).status
  t.equal(await call(), 200, 'the token works')
  t.match(await exchange(origin, good, first.verifier), { status: 400, body: { error: 'invalid_grant' } }, 'a replayed code is refused')
  t.equal(await call(), 401, 'and the access token it issued is revoked')
  const refreshed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(issued.body.refresh_token), client_id: DESKTOP.id })
  t.match(refreshed, { status: 400, body: { error: 'invalid_grant' } }, 'so is its refresh token')
  t.match(server.logs.records().filter((line) => line.reason === 'authorization_code_reuse'), [{ event: 'security' }])
  t.notOk(server.logs.text.includes(good) || server.logs.text.includes(first.verifier), 'neither code nor verifier is logged')
})

t.test('resource (RFC 8707): bound to the code and to the token\'s aud', async (t) => {
  const { origin } = await started(t)
  const { verifier, challenge } = pkce()
  const resource = `${origin}/mcp`
  const code = (await driveLogin(authorizeUrl(origin, challenge, { resource }))).searchParams.get('code') ?? ''
  t.match(await exchange(origin, code, verifier, { resource: 'https://elsewhere.test/mcp' }), { status: 400, body: { error: 'invalid_target' } }, 'another resource at the token endpoint')
  const issued = await exchange(origin, code, verifier, { resource })
  t.equal(issued.status, 200, 'the code was not used up by a request refused before it was read')
  t.equal(claimsOf(issued.body.access_token).aud, resource)
})

t.test('refresh rotation for a public client', async (t) => {
  const { origin } = await started(t)
  const { verifier, challenge } = pkce()
  const issued = await exchange(origin, (await driveLogin(authorizeUrl(origin, challenge))).searchParams.get('code') ?? '', verifier)
  const refreshed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(issued.body.refresh_token), client_id: DESKTOP.id })
  t.equal(refreshed.status, 200)
  t.not(refreshed.body.refresh_token, issued.body.refresh_token, 'rotated')
})

t.test('CSRF: the login form needs its session\'s token and a same-origin POST', async (t) => {
  const { origin } = await started(t)
  const jar = new CookieJar()
  const { html } = await loginPage(authorizeUrl(origin, pkce().challenge), jar)
  const refusals: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['no token', { csrf: '' }, {}],
    ['a wrong token', { csrf: 'x'.repeat(43) }, {}],
    ['cross-site', {}, { 'sec-fetch-site': 'cross-site' }],
    ['same-site, another origin', {}, { 'sec-fetch-site': 'same-site' }],
    ['a foreign Origin', {}, { origin: 'https://evil.test' }],
    ['Origin null', {}, { origin: 'null' }]
  ]
  for (const [name, fields, headers] of refusals) {
    const answer = await submitLogin(origin, jar, html, { ...ADA, ...fields }, headers)
    t.equal(answer.status, 403, name)
  }
  const noCookie = await postForm(new URL('/oauth/login', origin), new CookieJar(), new URLSearchParams({ csrf: hiddenField(html, 'csrf'), request: hiddenField(html, 'request'), ...ADA }))
  t.equal(noCookie.status, 403, 'without the session cookie')
  const reloaded = await loginPage(authorizeUrl(origin, pkce().challenge), jar)
  t.equal(reloaded.response.headers.get('set-cookie'), null, 'a reload keeps its session')
  t.equal((await submitLogin(origin, jar, html, ADA)).status, 403, 'a form of an earlier request of the session is refused')
  t.equal((await submitLogin(origin, jar, reloaded.html, ADA)).status, 303, 'the current form works')
})

t.test('login brute force: 429 past the failed-auth throttle, per account', async (t) => {
  const { server, origin } = await started(t, { rateLimit: { failedAuth: { max: 3, timeWindow: '1m' } } })
  const jar = new CookieJar()
  const { html } = await loginPage(authorizeUrl(origin, pkce().challenge), jar)
  const statuses = []
  for (let i = 0; i < 5; i++) statuses.push((await submitLogin(origin, jar, html, { username: ADA.username, password: `guess ${i}` })).status)
  t.same(statuses, [401, 401, 401, 429, 429])
  const last = await submitLogin(origin, jar, html, ADA)
  t.equal(last.status, 429, 'even the right password, until the window ends')
  t.ok(Number(last.headers.get('retry-after')) > 0)
  t.match(server.logs.records().filter((line) => line.event === 'auth' && line.outcome === 'throttled'), [{ strategy: 'login' }])
})

t.test('scopes the user lacks are narrowed away; none left is invalid_scope', async (t) => {
  const { origin } = await started(t)
  const narrowed = await driveLogin(authorizeUrl(origin, pkce().challenge), { user: BOB, scopes: (offered) => { t.same(offered, ['calculator:add']); return offered } })
  t.ok(narrowed.searchParams.get('code'))
  const none = await driveLogin(authorizeUrl(origin, pkce().challenge, { scope: 'calculator:multiply' }), { user: BOB })
  t.same([none.searchParams.get('error'), none.searchParams.get('state'), none.searchParams.get('iss')], ['invalid_scope', 'the-state', origin])
})

t.test('a checkbox value the page did not offer grants nothing', async (t) => {
  const { origin } = await started(t)
  const { verifier, challenge } = pkce()
  const callback = await driveLogin(authorizeUrl(origin, challenge, { scope: 'calculator:add' }), { scopes: () => ['calculator:add', 'calculator:power', '*'] })
  const issued = await exchange(origin, callback.searchParams.get('code') ?? '', verifier)
  t.equal(issued.body.scope, 'calculator:add')
})
