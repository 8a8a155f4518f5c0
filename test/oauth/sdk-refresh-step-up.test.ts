import t, { type Test } from 'tap'
import { createSigner } from 'fast-jwt'
import { Client, StreamableHTTPClientTransport, UnauthorizedError, type FetchLike } from '@modelcontextprotocol/client'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { FAST_SCRYPT, JWT_SECRET } from '../helpers/credentials.js'
import { basic, claimsOf, oauthPost } from '../helpers/issuing.js'
import { CookieJar, DESKTOP, driveLogin, loginConfig, MemoryOAuthProvider, type LoginDrive } from '../helpers/login.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

// The v2 SDK's own OAuth machinery after sign-in: refreshing when the server refuses an access
// token (the SDK's onUnauthorized → auth() → refresh_token grant, then the request again), and
// step-up when a tool needs a scope the token lacks (403 insufficient_scope → a new authorization
// for the union of scopes, SEP-2350), driven to completion in the browser.

const WEB = { id: 'webapp', secret: 'web app secret, 0123456789' }

async function started (t: Test): Promise<TestServer> {
  const port = await freePort()
  // A used refresh token presented again within the hour is a duplicate: refused, the family kept.
  const clients = [{ id: WEB.id, secretHash: await hashPassword(WEB.secret, FAST_SCRYPT), redirectUris: ['http://127.0.0.1/callback'], permissions: ['calculator:*'] }]
  const server = await listen(loginConfig(port, { clients, refreshReuseInterval: '1h' }))
  t.teardown(async () => { await server.close() })
  return server
}

/** What the MCP endpoint answered the client's POSTs (its GET for a stream gets 405 here): status and WWW-Authenticate. */
type Answers = Array<{ status: number, challenge: string | null }>

/**
 * Signs in through the SDK (401, browser, finishAuth) and connects a client that uses `provider`
 * from then on; `answers` records what the MCP endpoint answered it.
 */
async function signedIn (t: Test, server: TestServer, provider: MemoryOAuthProvider, drive: LoginDrive = {}, jar = new CookieJar()): Promise<{ client: Client, answers: Answers }> {
  await t.rejects(new Client({ name: 'refresh-test', version: '0.0.0' }).connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider })), UnauthorizedError)
  const authorizationUrl = provider.authorizationUrl
  if (authorizationUrl === undefined) throw new Error('the SDK did not ask for an authorization')
  await new StreamableHTTPClientTransport(server.url, { authProvider: provider }).finishAuth((await driveLogin(authorizationUrl, drive, jar)).searchParams)
  const answers: Answers = []
  // After `initialized` the SDK opens its GET stream on its own; it is awaited, so that it never
  // runs alongside what a test does to the tokens next.
  let streamAnswered: () => void = () => {}
  const stream = new Promise<void>((resolve) => { streamAnswered = resolve })
  const recording: FetchLike = async (url, init) => {
    const response = await fetch(url, init)
    if (new URL(url).pathname !== server.url.pathname) return response
    if (init?.method === 'POST') answers.push({ status: response.status, challenge: response.headers.get('www-authenticate') })
    if (init?.method === 'GET') streamAnswered()
    return response
  }
  const client = new Client({ name: 'refresh-test', version: '0.0.0' })
  await client.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider, fetch: recording }))
  t.teardown(async () => { await client.close() })
  await stream
  return { client, answers }
}

/** The access token as it is once its lifetime has passed: the same claims, `exp` a minute ago (beyond the 30 s tolerance). */
function expired (token: string | undefined): string {
  const claims = claimsOf(token)
  const exp = Math.floor(Date.now() / 1000) - 60
  return createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ ...claims, iat: exp - 900, exp })
}

const refusals = (server: TestServer): unknown[] => server.logs.records().filter((line) => line.event === 'auth' && line.outcome === 'failure').map((line) => line.reason)

t.test('an expired access token: the SDK refreshes (rotating the refresh token) and the call succeeds', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider()
  const { client, answers } = await signedIn(t, server, provider)
  const first = provider.tokens()
  if (first?.refresh_token === undefined) throw new Error('no refresh token')
  provider.saveTokens({ ...first, access_token: expired(first.access_token) })
  const failuresBefore = refusals(server).length
  answers.length = 0

  t.match(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } }), { structuredContent: { result: 42 } }, 'the call succeeds')
  t.same(refusals(server).slice(failuresBefore), ['token_expired'], 'after one refusal of the expired token')
  t.same(answers.map((answer) => answer.status), [401, 200], 'a 401, then the same call again with the refreshed token')
  t.match(answers[0]?.challenge, /error="invalid_token", error_description="token expired"/)
  const second = provider.tokens()
  t.not(second?.refresh_token, first.refresh_token, 'the refresh token was rotated')
  t.not(second?.access_token, first.access_token, 'a new access token')
  t.same([claimsOf(second?.access_token).sub, claimsOf(second?.access_token).fam], ['ada', claimsOf(first.access_token).fam], 'the same user and token family')
  t.same(server.logs.records().filter((line) => line.event === 'token' && line.grant === 'refresh_token').map((line) => line.principal), [provider.clientInformation()?.client_id], 'one refresh_token grant, by the registered client')
  const old = await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: provider.clientInformation()?.client_id ?? '' })
  t.same([old.status, old.body.error], [400, 'invalid_grant'], 'the old refresh token is used up')
  t.match(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }), { structuredContent: { result: 2 } }, 'the refreshed token keeps working')
})

t.test('a confidential client\'s revoked access token: the SDK refreshes with client_secret_basic', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider({ client_id: WEB.id, client_secret: WEB.secret })
  const { client } = await signedIn(t, server, provider)
  const first = provider.tokens()
  const revoked = await oauthPost(server.url.origin, '/oauth/revoke', { token: first?.access_token ?? '' }, { authorization: basic(WEB) })
  t.equal(revoked.status, 200)
  t.match(await client.callTool({ name: 'multiply', arguments: { a: 6, b: 7 } }), { structuredContent: { result: 42 } }, 'the call succeeds')
  t.not(provider.tokens()?.refresh_token, first?.refresh_token, 'rotated')
  t.same(server.logs.records().filter((line) => line.event === 'auth' && line.strategy === 'client').map((line) => [line.outcome, line.principal, line.detail]), [['success', WEB.id, undefined], ['success', WEB.id, undefined], ['success', WEB.id, undefined]],
    'code exchange, revocation and refresh: each with client authentication, none as a public client')
})

t.test('step-up: a token for add only; multiply gets 403 insufficient_scope, the SDK asks again, the wider consent works', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider(DESKTOP.id)
  const jar = new CookieJar()
  const { client, answers } = await signedIn(t, server, provider, { scopes: (offered) => offered.filter((scope) => scope === 'calculator:add') }, jar)
  t.equal(provider.tokens()?.scope, 'calculator:add')
  provider.authorizationUrl = undefined
  answers.length = 0

  // onInsufficientScope is 'reauthorize' (the default): the SDK starts a new authorization and, redirected, rejects the call.
  await t.rejects(client.callTool({ name: 'multiply', arguments: { a: 6, b: 7 } }), UnauthorizedError)
  const stepUp = provider.authorizationUrl as URL | undefined
  if (stepUp === undefined) throw new Error('the SDK did not start a step-up authorization')
  t.same(stepUp.searchParams.get('scope')?.split(' ').sort(), ['calculator:add', 'calculator:multiply'], 'it asks for the union of what it held and what the tool needs')
  t.same(answers.map((answer) => answer.status), [403], 'after one 403')
  t.match(answers[0]?.challenge, /error="insufficient_scope".*scope="calculator:multiply"/, 'insufficient_scope, naming the scope multiply needs')

  let offeredOnStepUp: string[] = []
  const callback = await driveLogin(stepUp, { scopes: (offered) => { offeredOnStepUp = offered; return offered } }, jar)
  t.same(offeredOnStepUp, ['calculator:add', 'calculator:multiply'], 'the consent page asks again, for more than was remembered')
  await new StreamableHTTPClientTransport(server.url, { authProvider: provider }).finishAuth(callback.searchParams)
  t.same(provider.tokens()?.scope?.split(' ').sort(), ['calculator:add', 'calculator:multiply'])
  t.match(await client.callTool({ name: 'multiply', arguments: { a: 6, b: 7 } }), { structuredContent: { result: 42 } }, 'multiply works on the same client')
  t.match(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }), { structuredContent: { result: 3 } }, 'and add still does')
})
