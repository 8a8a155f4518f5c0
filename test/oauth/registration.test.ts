import t, { type Test } from 'tap'
import { driveLogin, loginConfig, type LoginConfigOptions } from '../helpers/login.js'
import { authorizeUrl, pkce } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { listen } from '../helpers/server.js'

// RFC 7591 dynamic client registration: public clients only, safe redirect URIs, limited.

async function started (t: Test, options: LoginConfigOptions = {}): Promise<string> {
  const port = await freePort()
  const server = await listen(loginConfig(port, options))
  t.teardown(async () => { await server.close() })
  return server.url.origin
}

async function register (origin: string, body: unknown, raw?: string): Promise<{ status: number, headers: Headers, body: Record<string, unknown> }> {
  const response = await fetch(`${origin}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) })
  return { status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown> }
}

const SDK_BODY = { client_name: 'SDK test client', redirect_uris: ['http://127.0.0.1:9/callback'], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', application_type: 'native', scope: 'calculator:add' }

t.test('a public client registers, and its client_id works at the authorization endpoint', async (t) => {
  const origin = await started(t)
  const answer = await register(origin, SDK_BODY)
  t.equal(answer.status, 201)
  t.equal(answer.headers.get('cache-control'), 'no-store')
  t.match(answer.body, { client_id: /^dyn_[\w-]+$/, client_name: 'SDK test client', redirect_uris: ['http://127.0.0.1:9/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] })
  t.notOk('client_secret' in answer.body, 'no secret')
  const callback = await driveLogin(authorizeUrl(origin, pkce().challenge, { client_id: String(answer.body.client_id), scope: 'calculator:add' }))
  t.ok(callback.searchParams.get('code'), 'signed in')
  const consent = await fetch(authorizeUrl(origin, pkce().challenge, { client_id: String(answer.body.client_id), redirect_uri: 'https://app.example.com/cb' }), { redirect: 'manual' })
  t.equal(consent.status, 400, 'only its own redirect URIs')
})

t.test('hostile registrations are refused with 400 and say why', async (t) => {
  // Every attempt counts towards the limit, refused ones too: a higher one for this test.
  const origin = await started(t, { dynamicRegistration: { max: 100 } })
  const cases: Array<[string, unknown, string]> = [
    ['plain http off loopback', { redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri'],
    ['javascript:', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
    ['data:', { redirect_uris: ['data:text/html,hi'] }, 'invalid_redirect_uri'],
    ['a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }, 'invalid_redirect_uri'],
    ['userinfo', { redirect_uris: ['https://user:pw@app.example.com/cb'] }, 'invalid_redirect_uri'],
    ['loopback look-alike', { redirect_uris: ['http://127.0.0.1.evil.test/cb'] }, 'invalid_redirect_uri'],
    ['no redirect URIs', { client_name: 'x' }, 'invalid_redirect_uri'],
    ['too many redirect URIs', { redirect_uris: Array.from({ length: 11 }, (_v, i) => `https://app.example.com/${i}`) }, 'invalid_redirect_uri'],
    ['a confidential client', { ...SDK_BODY, token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata'],
    ['another grant', { ...SDK_BODY, grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    ['another response type', { ...SDK_BODY, response_types: ['token'] }, 'invalid_client_metadata'],
    ['a name too long', { ...SDK_BODY, client_name: 'x'.repeat(101) }, 'invalid_client_metadata'],
    ['not an object', ['https://app.example.com/cb'], 'invalid_client_metadata']
  ]
  for (const [name, body, error] of cases) t.match(await register(origin, body), { status: 400, body: { error } }, name)
  t.match(await register(origin, undefined, '{"redirect_uris":'), { status: 400, body: { error: 'invalid_client_metadata' } }, 'malformed JSON')
  t.match(await register(origin, undefined, JSON.stringify({ ...SDK_BODY, client_name: 'x'.repeat(9000) })), { status: 413 }, 'an oversized body')
})

t.test('too many registrations from one address: 429', async (t) => {
  const origin = await started(t, { dynamicRegistration: { max: 2, timeWindow: '1h' } })
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await register(origin, SDK_BODY)).status)
  t.same(statuses, [201, 201, 429])
})

t.test('off: no registration endpoint, none in the metadata', async (t) => {
  const origin = await started(t, { dynamicRegistration: false })
  t.equal((await fetch(`${origin}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SDK_BODY) })).status, 404)
  const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
  t.notOk('registration_endpoint' in metadata)
  t.ok(metadata.authorization_endpoint)
})
