import t, { type Test } from 'tap'
import { Client, InsufficientScopeError, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import { claimsOf } from '../helpers/issuing.js'
import { driveLogin, loginConfig, MemoryOAuthProvider, DESKTOP, type LoginDrive } from '../helpers/login.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

// The v2 SDK's own OAuth client against the built-in authorization server, the way a desktop
// client signs a person in: discovery, registration, authorize, login, consent, code exchange.

async function started (t: Test, options: Parameters<typeof loginConfig>[1] = {}): Promise<TestServer> {
  const port = await freePort()
  const server = await listen(loginConfig(port, options))
  t.teardown(async () => { await server.close() })
  return server
}

/** Connects (401), signs in with `drive`, finishes the authorization, and connects again on a new transport. */
async function signedIn (t: Test, server: TestServer, provider: MemoryOAuthProvider, drive: LoginDrive = {}): Promise<{ client: Client, callback: URL }> {
  const first = new Client({ name: 'login-test', version: '0.0.0' })
  await t.rejects(first.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider })), UnauthorizedError)
  const authorizationUrl = provider.authorizationUrl
  if (authorizationUrl === undefined) throw new Error('the SDK did not ask for an authorization')
  const callback = await driveLogin(authorizationUrl, drive)
  t.equal(callback.searchParams.get('state'), provider.lastState, 'state comes back')
  const transport = new StreamableHTTPClientTransport(server.url, { authProvider: provider })
  await transport.finishAuth(callback.searchParams)
  const client = new Client({ name: 'login-test', version: '0.0.0' })
  await client.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider, onInsufficientScope: 'throw' }))
  t.teardown(async () => { await client.close() })
  return { client, callback }
}

t.test('a client that registers itself signs a user in and calls tools', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider()
  const { client, callback } = await signedIn(t, server, provider)
  t.equal(callback.origin + callback.pathname, 'http://127.0.0.1:9/callback')
  t.equal(callback.searchParams.get('iss'), server.url.origin, 'RFC 9207 iss is the issuer')
  t.match(provider.clientInformation()?.client_id, /^dyn_/, 'registered dynamically')
  const tools = await client.listTools()
  t.ok(tools.tools.some((tool) => tool.name === 'add'))
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })
  t.match(sum, { structuredContent: { result: 5 } })
  const claims = claimsOf(provider.tokens()?.access_token)
  t.equal(claims.sub, 'ada', 'the token is the user\'s')
  t.equal(claims.client_id, provider.clientInformation()?.client_id, 'and names the client')
  t.equal(claims.aud, `${server.url.origin}/mcp`, 'for this resource (RFC 8707)')
  const audit = server.logs.records().filter((line) => line.event === 'auth' && line.strategy === 'login')
  t.match(audit, [{ outcome: 'success', principal: 'ada' }], 'the sign-in is audited')
})

t.test('a pre-registered public client; granting fewer scopes on the consent page limits the token', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider(DESKTOP.id)
  const { client } = await signedIn(t, server, provider, { scopes: (offered) => offered.filter((scope) => scope === 'calculator:add') })
  t.equal(provider.tokens()?.scope, 'calculator:add')
  const names = (await client.listTools()).tools.map((tool) => tool.name)
  t.same(names, ['add'], 'only the granted tool is listed')
  t.match(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }), { structuredContent: { result: 2 } })
  await t.rejects(client.callTool({ name: 'multiply', arguments: { a: 2, b: 2 } }), InsufficientScopeError, 'a tool outside the grant is refused (403 insufficient_scope)')
})

t.test('the user\'s own permissions bound what a client can get', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider(DESKTOP.id)
  const { client } = await signedIn(t, server, provider, { user: { username: 'bob', password: 'bob password, 0123456789' } })
  t.equal(provider.tokens()?.scope, 'calculator:add', 'bob holds calculator:add only')
  t.same((await client.listTools()).tools.map((tool) => tool.name), ['add'])
})

t.test('consent is remembered: the next sign-in with the same scopes skips the page', async (t) => {
  const server = await started(t)
  const provider = new MemoryOAuthProvider(DESKTOP.id)
  await signedIn(t, server, provider)
  const again = new MemoryOAuthProvider(DESKTOP.id)
  let consentShown = false
  await signedIn(t, server, again, { scopes: (offered) => { consentShown = true; return offered } })
  t.notOk(consentShown, 'no consent page the second time')
  t.ok(again.tokens()?.access_token)
})
