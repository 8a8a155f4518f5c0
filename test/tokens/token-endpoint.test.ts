import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { ADMIN, ISSUER, REPORTING, basic, issuingConfig, oauthPost, tokens } from '../helpers/issuing.js'
import { listen } from '../helpers/server.js'

const server = await listen(issuingConfig())
t.teardown(server.close)
const origin = server.url.origin
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
const mcpStatus = async (access: string) => (await post(server.url, addCall, { authorization: `Bearer ${access}` })).status

t.test('client credentials: an access token, a refresh token, never cached', async (t) => {
  const answer = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(REPORTING) })
  t.equal(answer.status, 200)
  t.equal(answer.headers.get('cache-control'), 'no-store')
  t.equal(answer.headers.get('pragma'), 'no-cache')
  t.match(answer.body, { token_type: 'Bearer', expires_in: 900, scope: 'calculator:add calculator:whoami', access_token: String, refresh_token: /^[A-Za-z0-9_-]{43}$/ })
  const claims = claimsOf(String(answer.body.access_token))
  t.match(claims, { sub: 'reporting', permissions: ['calculator:add', 'calculator:whoami'], iss: ISSUER, aud: `${ISSUER}/mcp`, jti: String, fam: String })
  t.equal(Number(claims.exp) - Number(claims.iat), 900, 'accessTokenTtl, 15 minutes by default')
  t.equal(await mcpStatus(String(answer.body.access_token)), 200, 'the access token opens the MCP endpoint')
  t.notOk(server.logs.text.includes(String(answer.body.refresh_token)), 'no token in the logs')
  t.notOk(server.logs.text.includes(REPORTING.secret), 'no client secret in the logs')
})

t.test('client authentication in the body, form-encoded or JSON', async (t) => {
  const form = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', client_id: ADMIN.id, client_secret: ADMIN.secret })
  t.equal(form.status, 200)
  const json = await fetch(new URL('/oauth/token', origin), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: ADMIN.id, client_secret: ADMIN.secret, scope: 'calculator:sqrt' })
  })
  t.equal(json.status, 200)
  t.match(await json.json(), { scope: 'calculator:sqrt' })
})

t.test('a requested scope narrows, never widens', async (t) => {
  const narrowed = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', scope: 'calculator:add' }, { authorization: basic(ADMIN) })
  t.same(claimsOf(String(narrowed.body.access_token)).permissions, ['calculator:add'])
  const widened = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', scope: 'calculator:add calculator:divide' }, { authorization: basic(REPORTING) })
  t.equal(widened.status, 400)
  t.same(widened.body, { error: 'invalid_scope', error_description: 'scope not granted to this client: calculator:divide' })
})

t.test('every error in the RFC 6749 §5.2 shape', async (t) => {
  const cases: Array<[string, Record<string, string>, Record<string, string>, number, string]> = [
    ['wrong secret', { grant_type: 'client_credentials' }, { authorization: basic({ id: REPORTING.id, secret: 'wrong' }) }, 401, 'invalid_client'],
    ['unknown client', { grant_type: 'client_credentials' }, { authorization: basic({ id: 'nobody', secret: 'x' }) }, 401, 'invalid_client'],
    ['no client authentication', { grant_type: 'client_credentials' }, {}, 401, 'invalid_client'],
    ['malformed Basic', { grant_type: 'client_credentials' }, { authorization: 'Basic !!!' }, 401, 'invalid_client'],
    ['a bearer token instead', { grant_type: 'client_credentials' }, { authorization: 'Bearer abc' }, 401, 'invalid_client'],
    ['two authentication methods', { grant_type: 'client_credentials', client_id: REPORTING.id, client_secret: REPORTING.secret }, { authorization: basic(REPORTING) }, 400, 'invalid_request'],
    ['no grant_type', {}, { authorization: basic(REPORTING) }, 400, 'invalid_request'],
    ['an unsupported grant', { grant_type: 'password', username: 'a', password: 'b' }, { authorization: basic(REPORTING) }, 400, 'unsupported_grant_type'],
    ['refresh without a token', { grant_type: 'refresh_token' }, { authorization: basic(REPORTING) }, 400, 'invalid_request'],
    ['an unknown refresh token', { grant_type: 'refresh_token', refresh_token: 'not-a-token' }, { authorization: basic(REPORTING) }, 400, 'invalid_grant']
  ]
  for (const [name, form, headers, status, error] of cases) {
    const answer = await oauthPost(origin, '/oauth/token', form, headers)
    t.equal(answer.status, status, name)
    t.equal(answer.body.error, error, `${name}: ${error}`)
    t.type(answer.body.error_description, 'string')
    t.equal(answer.headers.get('cache-control'), 'no-store')
    if (status === 401) t.equal(answer.headers.get('www-authenticate'), 'Basic realm="oauth", charset="UTF-8"', `${name}: challenge`)
  }
  const repeated = await fetch(new URL('/oauth/token', origin), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(REPORTING) }, body: 'grant_type=client_credentials&grant_type=refresh_token' })
  t.equal(repeated.status, 400, 'a repeated parameter')
  t.match(await repeated.json(), { error: 'invalid_request' })
  const wrongType = await fetch(new URL('/oauth/token', origin), { method: 'POST', headers: { 'content-type': 'text/plain', authorization: basic(REPORTING) }, body: 'grant_type=client_credentials' })
  t.equal(wrongType.status, 400, 'an unsupported content type')
  t.match(await wrongType.json(), { error: 'invalid_request' })
})

t.test('refresh rotates; a replayed refresh token revokes its family', async (t) => {
  const first = await tokens(origin)
  const refreshed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh }, { authorization: basic(REPORTING) })
  t.equal(refreshed.status, 200)
  const second = { access: String(refreshed.body.access_token), refresh: String(refreshed.body.refresh_token) }
  t.not(second.refresh, first.refresh, 'a new refresh token')
  t.equal(claimsOf(second.access).fam, claimsOf(first.access).fam, 'in the same family')
  t.equal(await mcpStatus(second.access), 200)

  const replay = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh }, { authorization: basic(REPORTING) })
  t.equal(replay.status, 400)
  t.equal(replay.body.error, 'invalid_grant', 'the used refresh token stopped working at once')
  const afterReplay = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: second.refresh }, { authorization: basic(REPORTING) })
  t.equal(afterReplay.body.error, 'invalid_grant', 'the family\'s current refresh token is revoked too')
  const refused = await post(server.url, addCall, { authorization: `Bearer ${second.access}` })
  t.equal(refused.status, 401, 'and so are its access tokens')
  t.match(await refused.json(), { code: 'MCP_AUTH_TOKEN_REVOKED', message: 'token revoked' })
  t.match(refused.headers.get('www-authenticate'), /error="invalid_token", error_description="token revoked"/)
  t.match(server.logs.records().find((r) => r.reason === 'refresh_token_reuse'), { level: 40, event: 'security', principal: 'reporting' }, 'logged as a security event')
})

t.test('refresh narrows scope, never widens; a refresh token only works for its client', async (t) => {
  const start = await tokens(origin, ADMIN, 'calculator:add calculator:sqrt')
  const narrowed = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: start.refresh, scope: 'calculator:sqrt' }, { authorization: basic(ADMIN) })
  t.same(claimsOf(String(narrowed.body.access_token)).permissions, ['calculator:sqrt'])
  const widened = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: String(narrowed.body.refresh_token), scope: 'calculator:divide' }, { authorization: basic(ADMIN) })
  t.equal(widened.body.error, 'invalid_scope')

  const other = await tokens(origin, ADMIN)
  const stolen = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: other.refresh }, { authorization: basic(REPORTING) })
  t.equal(stolen.body.error, 'invalid_grant')
  const owner = await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: other.refresh }, { authorization: basic(ADMIN) })
  t.equal(owner.status, 200, 'another client\'s attempt did not use it up')
})

t.test('revocation (RFC 7009): refresh tokens end their family, access tokens stop at once', async (t) => {
  const pair = await tokens(origin)
  const revokeRefresh = await oauthPost(origin, '/oauth/revoke', { token: pair.refresh, token_type_hint: 'refresh_token' }, { authorization: basic(REPORTING) })
  t.equal(revokeRefresh.status, 200)
  t.equal(revokeRefresh.headers.get('cache-control'), 'no-store')
  t.equal((await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh }, { authorization: basic(REPORTING) })).body.error, 'invalid_grant')
  t.equal(await mcpStatus(pair.access), 401, 'the family\'s access token too')

  const next = await tokens(origin)
  t.equal(await mcpStatus(next.access), 200)
  t.equal((await oauthPost(origin, '/oauth/revoke', { token: next.access }, { authorization: basic(ADMIN) })).status, 200, 'another client may ask...')
  t.equal(await mcpStatus(next.access), 200, '...but cannot revoke a token that is not its own')
  t.equal((await oauthPost(origin, '/oauth/revoke', { token: next.access }, { authorization: basic(REPORTING) })).status, 200)
  t.equal(await mcpStatus(next.access), 401, 'revoked on the very next request')
  t.equal(await mcpStatus(next.refresh === '' ? '' : (await tokens(origin)).access), 200, 'other tokens of the client still work')

  t.equal((await oauthPost(origin, '/oauth/revoke', { token: 'never-issued' }, { authorization: basic(REPORTING) })).status, 200, 'an unknown token: 200 as well')
  t.equal((await oauthPost(origin, '/oauth/revoke', {}, { authorization: basic(REPORTING) })).body.error, 'invalid_request')
  t.equal((await oauthPost(origin, '/oauth/revoke', { token: next.access })).status, 401, 'client authentication is required')
})

t.test('authorization server metadata (RFC 8414) and the resource metadata name this server', async (t) => {
  const as = await fetch(new URL('/.well-known/oauth-authorization-server', origin))
  t.same(await as.json(), {
    issuer: ISSUER,
    token_endpoint: `${ISSUER}/oauth/token`,
    revocation_endpoint: `${ISSUER}/oauth/revoke`,
    grant_types_supported: ['client_credentials', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: ['calculator:add', 'calculator:subtract', 'calculator:multiply', 'calculator:divide', 'calculator:modulo', 'calculator:power', 'calculator:sqrt', 'calculator:whoami'],
    response_types_supported: []
  })
  const resource = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', origin))
  t.match(await resource.json(), { resource: `${ISSUER}/mcp`, authorization_servers: [ISSUER] })
})

t.test('config: issue needs an issuer and a key that can sign; plain client secrets are refused', async (t) => {
  const { parseConfig } = await import('../../config/load.js')
  const { ConfigError } = await import('../../config/problems.js')
  const problems = (doc: unknown): string[] => {
    try { parseConfig(doc, { env: {} }); return [] } catch (error) { return error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`) : [String(error)] }
  }
  t.match(problems({ auth: { strategy: 'jwt', jwt: { secret: 'x'.repeat(40), issue: { clients: [{ id: 'a', secretHash: 'x', permissions: [] }] } } } }), [
    /auth\.jwt\.issue\.clients\[0\]\.secretHash: expected the output of `fastify-mcp-auth hash-password`/
  ])
  const { hashPassword } = await import('../../plugins/auth/password-hash.js')
  const hash = await hashPassword('a client secret', { N: 1024, r: 8, p: 1 })
  const client = { id: 'a', secretHash: hash, permissions: [] }
  t.same(problems({ auth: { strategy: 'jwt', jwt: { secret: 'x'.repeat(40), issuer: ISSUER, issue: { clients: [{ ...client, secret: 'plain' }] } } } }),
    ['auth.jwt.issue.clients[0].secret: plain client secrets are refused: store secretHash, the output of `fastify-mcp-auth hash-password`'])
  t.same(problems({ auth: { strategy: 'jwt', jwt: { secret: 'x'.repeat(40), issue: { clients: [client] } } } }),
    ['auth.jwt.issuer: issue needs issuer: the tokens name it and the metadata publishes it (use server.publicUrl)'])
  t.same(problems({ auth: { strategy: 'jwt', jwt: { jwksUrl: 'https://idp.test/jwks', issuer: 'https://idp.test', issue: { clients: [client] } } } }),
    ['auth.jwt.issue: issue needs a key that can sign: secret, privateKey, or keys with one'])
  t.match(problems({ auth: { strategy: 'jwt', jwt: { secret: 'x'.repeat(40), issuer: ISSUER, issue: { clients: [] } } } }), [/clients: at least one client/])
})
