import t from 'tap'
import { Client, StreamableHTTPClientTransport, UnauthorizedError, type FetchLike } from '@modelcontextprotocol/client'
import { claimsOf, oauthPost } from '../helpers/issuing.js'
import { ADA, CookieJar, driveLogin, hiddenField, loginConfig, MemoryOAuthProvider, postForm, REDIRECT_URI } from '../helpers/login.js'
import { authorizeUrl, loginPage, pkce, submitLogin } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { redisTest } from '../helpers/redis.js'
import { listen, type TestServer } from '../helpers/server.js'

// Interactive login with its state in a real Redis, served by two instances behind one public
// URL, as replicas behind a load balancer: sessions, registrations, codes, consent and refresh
// tokens written by one instance are read by the other.

redisTest(t, 'interactive login on two instances sharing one Redis', async (t, redis) => {
  const ports = { a: await freePort(), b: await freePort() }
  // Both answer for A's URL (issuer, publicUrl, audience): B is reached by rewriting the port, as a balancer would.
  const origin = `http://127.0.0.1:${ports.a}`
  const instances: TestServer[] = []
  t.teardown(async () => { for (const instance of instances) await instance.close() })
  for (const port of [ports.a, ports.b]) instances.push(await listen(loginConfig(port, { origin, store: { redisUrl: redis.url } })))
  const [a, b] = instances as [TestServer, TestServer]
  const onB = (url: URL | string): URL => {
    const moved = new URL(url)
    moved.port = String(ports.b)
    return moved
  }
  const tokenRequests = (server: TestServer): unknown[] => server.logs.records().filter((line) => line.event === 'token' && line.msg === 'token request').map((line) => line.grant)

  t.test('the browser\'s steps alternate between the instances: the session and the pending request are in Redis', async (t) => {
    const jar = new CookieJar()
    const { verifier, challenge } = pkce()
    const { html } = await loginPage(authorizeUrl(origin, challenge), jar)
    // The page came from A; its form is posted to B, from A's (the public) origin.
    const signedIn = await submitLogin(onB(origin), jar, html, ADA, { origin })
    t.equal(signedIn.status, 303, 'B signs in a session A started')
    const consentPage = await fetch(new URL(signedIn.headers.get('location') ?? '', origin), { headers: { cookie: jar.header } })
    const consent = await consentPage.text()
    t.equal(consentPage.status, 200, 'A shows the consent page of the session B signed in')
    const form = new URLSearchParams({ csrf: hiddenField(consent, 'csrf'), request: hiddenField(consent, 'request'), decision: 'allow', scope: 'calculator:add' })
    const allowed = await postForm(new URL('/oauth/consent', onB(origin)), jar, form, { origin })
    t.equal(allowed.status, 303)
    const callback = new URL(allowed.headers.get('location') ?? '')
    t.equal(callback.origin + callback.pathname, REDIRECT_URI)
    const code = callback.searchParams.get('code') ?? ''
    const exchanged = await oauthPost(origin, '/oauth/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: 'desktop' })
    t.equal(exchanged.status, 200, 'the code B issued is redeemed on A')
    t.equal(exchanged.body.scope, 'calculator:add')
    const replayed = await oauthPost(onB(origin), '/oauth/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: 'desktop' })
    t.same([replayed.status, replayed.body.error], [400, 'invalid_grant'], 'and is used up on B too')
    const refreshed = await oauthPost(onB(origin), '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token), client_id: 'desktop' })
    t.same([refreshed.status, refreshed.body.error], [400, 'invalid_grant'], 'the replay on B revoked the family A issued')
    t.ok(b.logs.records().some((line) => line.reason === 'authorization_code_reuse'), 'B logged the reuse')
  })

  t.test('the SDK\'s client: registered and signed in on A, its code redeemed and its tools called on B, refreshed on A', async (t) => {
    // The balancer: the token endpoint and the MCP endpoint are B's, the rest (discovery, registration) A's.
    const balancer: FetchLike = async (url, init) => {
      const target = new URL(url)
      return await fetch(target.pathname === '/oauth/token' || target.pathname === '/mcp' ? onB(target) : target, init)
    }
    const provider = new MemoryOAuthProvider()
    await t.rejects(new Client({ name: 'redis-login', version: '0.0.0' }).connect(new StreamableHTTPClientTransport(a.url, { authProvider: provider, fetch: balancer })), UnauthorizedError)
    const clientId = provider.clientInformation()?.client_id ?? ''
    t.match(clientId, /^dyn_/, 'registered on A')
    t.same(b.logs.records().filter((line) => line.event === 'client_registration'), [], 'not on B')
    const authorizationUrl = provider.authorizationUrl
    if (authorizationUrl === undefined) throw new Error('the SDK did not ask for an authorization')
    const callback = await driveLogin(authorizationUrl)
    const before = { a: tokenRequests(a).length, b: tokenRequests(b).length }
    await new StreamableHTTPClientTransport(a.url, { authProvider: provider, fetch: balancer }).finishAuth(callback.searchParams)
    t.same([tokenRequests(a).length - before.a, tokenRequests(b).slice(before.b)], [0, ['authorization_code']], 'B redeemed the code A issued, for the client A registered')
    const client = new Client({ name: 'redis-login', version: '0.0.0' })
    await client.connect(new StreamableHTTPClientTransport(a.url, { authProvider: provider, fetch: balancer }))
    t.teardown(async () => { await client.close() })
    t.match(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } }), { structuredContent: { result: 42 } }, 'B serves the tools')
    const first = provider.tokens()
    t.equal(claimsOf(first?.access_token).sub, ADA.username)

    const refreshed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first?.refresh_token ?? '', client_id: clientId })
    t.equal(refreshed.status, 200, 'A refreshes what B issued')
    const old = await oauthPost(onB(origin), '/oauth/token', { grant_type: 'refresh_token', refresh_token: first?.refresh_token ?? '', client_id: clientId })
    t.same([old.status, old.body.error], [400, 'invalid_grant'], 'B knows the old one is used')
  })
})
