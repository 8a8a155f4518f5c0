import t, { type Test } from 'tap'
import { claimsOf, oauthPost, type TokenAnswer } from '../helpers/issuing.js'
import { driveLogin, loginConfig, REDIRECT_URI } from '../helpers/login.js'
import { authorizeUrl, pkce } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

// A dynamically registered client's tokens do not outlive its registration: once the record is
// gone from the token store (expired or deleted), its refresh tokens are refused, whether the
// refresh names the client or not.

async function started (t: Test): Promise<TestServer> {
  const port = await freePort()
  const server = await listen(loginConfig(port))
  t.teardown(async () => { await server.close() })
  return server
}

/** Registers a client (RFC 7591), signs ada in through it and exchanges the code: its id and tokens. */
async function registeredAndSignedIn (origin: string): Promise<{ clientId: string, tokens: TokenAnswer }> {
  const registration = await fetch(new URL('/oauth/register', origin), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Short-lived', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' })
  })
  const { client_id: clientId } = await registration.json() as { client_id: string }
  const { verifier, challenge } = pkce()
  const callback = await driveLogin(authorizeUrl(origin, challenge, { client_id: clientId }))
  const tokens = await oauthPost(origin, '/oauth/token', { grant_type: 'authorization_code', code: callback.searchParams.get('code') ?? '', code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: clientId })
  if (tokens.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(tokens.body)}`)
  return { clientId, tokens }
}

const refresh = async (origin: string, refreshToken: unknown, clientId?: string): Promise<TokenAnswer> =>
  await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(refreshToken), ...(clientId === undefined ? {} : { client_id: clientId }) })

t.test('a refresh without client_id is not a public client\'s: 401 invalid_client, the token kept', async (t) => {
  const server = await started(t)
  const { clientId, tokens } = await registeredAndSignedIn(server.url.origin)
  const anonymous = await refresh(server.url.origin, tokens.body.refresh_token)
  t.same([anonymous.status, anonymous.body.error], [401, 'invalid_client'])
  const named = await refresh(server.url.origin, tokens.body.refresh_token, clientId)
  t.equal(named.status, 200, 'while registered, with its client_id, it refreshes (the refusal did not use it up)')
  t.equal(claimsOf(named.body.access_token).client_id, clientId)
})

t.test('its registration gone from the store: its refresh tokens are refused, at the endpoint and in the service', async (t) => {
  const server = await started(t)
  const { clientId, tokens } = await registeredAndSignedIn(server.url.origin)
  const rotated = await refresh(server.url.origin, tokens.body.refresh_token, clientId)
  t.equal(rotated.status, 200)
  const issuer = server.app.mcpAuthTokenIssuer
  // What an expiry leaves behind: the store no longer has the record (its key is the directory's).
  await issuer.store.delete(`client:${clientId}`)
  t.equal(await issuer.login?.clients.find(clientId), undefined, 'the directory no longer knows it')
  const named = await refresh(server.url.origin, rotated.body.refresh_token, clientId)
  t.same([named.status, named.body.error], [401, 'invalid_client'], 'with its client_id')
  const anonymous = await refresh(server.url.origin, rotated.body.refresh_token)
  t.same([anonymous.status, anonymous.body.error], [401, 'invalid_client'], 'without one')
  await t.rejects(issuer.service.refresh(clientId, String(rotated.body.refresh_token)), { message: /refresh token is invalid/, error: 'invalid_grant' }, 'the token service itself refuses it, not only the route')
  const probe = await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: clientId }), { headers: { accept: 'application/json' } })
  t.match([probe.status, await probe.json()], [400, { error: 'invalid_client' }], 'and it cannot sign anyone in again')
})
