import t, { type Test } from 'tap'
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { assertionClaims, ecKeys, signAssertion } from '../helpers/assertions.js'
import { FAST_SCRYPT } from '../helpers/credentials.js'
import { basic, claimsOf, oauthPost, type TokenAnswer } from '../helpers/issuing.js'
import { DESKTOP, driveLogin, loginConfig, MemoryOAuthProvider, REDIRECT_URI } from '../helpers/login.js'
import { authorizeUrl, pkce } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'
import { JWT_BEARER_ASSERTION_TYPE } from '../../plugins/token-issuer/client-assertion.js'

// Confidential clients of the authorization code flow: configured with redirectUris AND a secret
// (or a key). They sign users in like public clients, but their code and refresh grants need their
// client authentication on top of PKCE: a client_id alone never redeems their codes.

const WEB = { id: 'webapp', secret: 'web app secret, 0123456789' }
const keys = ecKeys()
const CLIENTS = [
  { id: WEB.id, name: 'Web App', secretHash: await hashPassword(WEB.secret, FAST_SCRYPT), redirectUris: ['http://127.0.0.1/callback'], permissions: ['calculator:*'] },
  { id: 'keyed', publicKey: keys.publicPem, algorithms: ['ES256'], redirectUris: ['http://127.0.0.1/callback'], permissions: ['calculator:add'] },
  { id: 'other', secretHash: await hashPassword('other secret, 0123456789', FAST_SCRYPT), redirectUris: ['http://127.0.0.1/callback'], permissions: ['calculator:*'] }
]

async function started (t: Test): Promise<{ server: TestServer, origin: string }> {
  const port = await freePort()
  const server = await listen(loginConfig(port, { clients: CLIENTS }))
  t.teardown(async () => { await server.close() })
  return { server, origin: server.url.origin }
}

/** A code for `clientId`, signed in as ada with all scopes allowed, and its verifier. */
async function codeFor (origin: string, clientId: string, scope = 'calculator:add calculator:multiply'): Promise<{ code: string, verifier: string }> {
  const { verifier, challenge } = pkce()
  const callback = await driveLogin(authorizeUrl(origin, challenge, { client_id: clientId, scope }))
  const code = callback.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${callback.search}`)
  return { code, verifier }
}

const exchange = async (origin: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> =>
  await oauthPost(origin, '/oauth/token', { grant_type: 'authorization_code', redirect_uri: REDIRECT_URI, ...form }, headers)

t.test('the SDK\'s OAuth client as a confidential client: client_secret_basic at the token endpoint, then tools', async (t) => {
  const { server } = await started(t)
  const provider = new MemoryOAuthProvider({ client_id: WEB.id, client_secret: WEB.secret })
  await t.rejects(new Client({ name: 'web', version: '0.0.0' }).connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider })), UnauthorizedError)
  const authorizationUrl = provider.authorizationUrl
  if (authorizationUrl === undefined) throw new Error('the SDK did not ask for an authorization')
  t.equal(authorizationUrl.searchParams.get('client_id'), WEB.id)
  const callback = await driveLogin(authorizationUrl)
  await new StreamableHTTPClientTransport(server.url, { authProvider: provider }).finishAuth(callback.searchParams)
  const client = new Client({ name: 'web', version: '0.0.0' })
  await client.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider }))
  t.teardown(async () => { await client.close() })
  t.match(await client.callTool({ name: 'multiply', arguments: { a: 6, b: 7 } }), { structuredContent: { result: 42 } })
  const claims = claimsOf(provider.tokens()?.access_token)
  t.same([claims.sub, claims.client_id], ['ada', WEB.id], 'the user\'s token, for the confidential client')
  const audit = server.logs.records().filter((line) => line.event === 'auth' && line.strategy === 'client')
  t.same(audit.map((line) => [line.outcome, line.principal, line.detail]), [['success', WEB.id, undefined]], 'the client authenticated once, for the code exchange, not as a public client')
  t.notOk(server.logs.text.includes(WEB.secret), 'no secret in the log')
})

t.test('its code needs its client authentication and PKCE; a client_id alone is 401 invalid_client', async (t) => {
  const { server, origin } = await started(t)
  const first = await codeFor(origin, WEB.id)
  const alone = await exchange(origin, { code: first.code, client_id: WEB.id, code_verifier: first.verifier })
  t.same([alone.status, alone.body.error], [401, 'invalid_client'], 'client_id and verifier, no secret')
  t.match(alone.headers.get('www-authenticate'), /^Basic realm=/)
  const wrong = await exchange(origin, { code: first.code, code_verifier: first.verifier }, { authorization: basic({ id: WEB.id, secret: 'not the secret' }) })
  t.same([wrong.status, wrong.body.error], [401, 'invalid_client'], 'a wrong secret')
  const noVerifier = await exchange(origin, { code: first.code, client_id: WEB.id, client_secret: WEB.secret })
  t.same([noVerifier.status, noVerifier.body.error], [400, 'invalid_grant'], 'authenticated, without the PKCE verifier')
  const late = await exchange(origin, { code: first.code, code_verifier: first.verifier }, { authorization: basic(WEB) })
  t.same([late.status, late.body.error], [400, 'invalid_grant'], 'that used the code up')

  const second = await codeFor(origin, WEB.id)
  const otherClient = await exchange(origin, { code: second.code, code_verifier: second.verifier }, { authorization: basic({ id: 'other', secret: 'other secret, 0123456789' }) })
  t.same([otherClient.status, otherClient.body.error], [400, 'invalid_grant'], 'another confidential client cannot redeem it')

  const third = await codeFor(origin, WEB.id)
  const posted = await exchange(origin, { code: third.code, code_verifier: third.verifier, client_id: WEB.id, client_secret: WEB.secret })
  t.equal(posted.status, 200, 'client_secret_post with the verifier')
  t.match(posted.body, { token_type: 'Bearer', scope: 'calculator:add calculator:multiply' })
  t.same([claimsOf(posted.body.access_token).sub, claimsOf(posted.body.access_token).client_id], ['ada', WEB.id])
  t.notOk(server.logs.text.includes(third.verifier) || server.logs.text.includes(WEB.secret), 'neither verifier nor secret is logged')
})

t.test('its refresh tokens need its client authentication too; client credentials are not its grant', async (t) => {
  const { origin } = await started(t)
  const { code, verifier } = await codeFor(origin, WEB.id)
  const issued = await exchange(origin, { code, code_verifier: verifier }, { authorization: basic(WEB) })
  t.equal(issued.status, 200)
  const refreshToken = String(issued.body.refresh_token)
  const alone = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: WEB.id })
  t.same([alone.status, alone.body.error], [401, 'invalid_client'], 'client_id alone')
  const none = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken })
  t.same([none.status, none.body.error], [401, 'invalid_client'], 'no client at all')
  const other = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basic({ id: 'other', secret: 'other secret, 0123456789' }) })
  t.same([other.status, other.body.error], [400, 'invalid_grant'], 'another client')
  const refreshed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basic(WEB) })
  t.equal(refreshed.status, 200, 'the refused attempts did not use it up')
  t.not(refreshed.body.refresh_token, refreshToken, 'rotated')
  t.equal(claimsOf(refreshed.body.access_token).sub, 'ada', 'still the user\'s')
  const credentials = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(WEB) })
  t.same([credentials.status, credentials.body.error], [400, 'unauthorized_client'], 'no tokens of its own, without a user')
  const revoked = await oauthPost(origin, '/oauth/revoke', { token: String(refreshed.body.refresh_token) }, { authorization: basic(WEB) })
  t.equal(revoked.status, 200, 'it can revoke its tokens (RFC 7009, authenticated)')
  const afterRevoke = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token) }, { authorization: basic(WEB) })
  t.same([afterRevoke.status, afterRevoke.body.error], [400, 'invalid_grant'])
})

t.test('a client registered by key uses private_key_jwt for its code', async (t) => {
  const { origin } = await started(t)
  const { code, verifier } = await codeFor(origin, 'keyed', 'calculator:add')
  const alone = await exchange(origin, { code, code_verifier: verifier, client_id: 'keyed' })
  t.same([alone.status, alone.body.error], [401, 'invalid_client'], 'client_id alone')
  const assertion = signAssertion(keys.privatePem, assertionClaims('keyed', origin))
  const issued = await exchange(origin, { code, code_verifier: verifier, client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: assertion })
  t.equal(issued.status, 200)
  t.same([claimsOf(issued.body.access_token).sub, issued.body.scope], ['ada', 'calculator:add'])
})

t.test('public clients keep working; the metadata lists every method', async (t) => {
  const { origin } = await started(t)
  const { code, verifier } = await codeFor(origin, DESKTOP.id)
  const issued = await exchange(origin, { code, code_verifier: verifier, client_id: DESKTOP.id })
  t.equal(issued.status, 200, 'a public client: client_id and PKCE')
  const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
  t.same(metadata.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
  t.same(metadata.grant_types_supported, ['client_credentials', 'refresh_token', 'authorization_code'])
})
