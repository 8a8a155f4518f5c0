import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { ADMIN, ISSUER, REPORTING, basic, claimsOf, issuingConfig, oauthPost, refresh, tokens } from '../helpers/issuing.js'
import { listen } from '../helpers/server.js'

// No grace interval here: a used refresh token presented again is reuse at once (refresh-race.test.ts covers the interval).
const server = await listen(issuingConfig(undefined, { refreshReuseInterval: 0 }))
t.teardown(server.close)
const origin = server.url.origin
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

t.test('a requested scope narrows, never widens: the intersection is granted (RFC 6749 §3.3)', async (t) => {
  const ask = async (client: typeof ADMIN, scope: string) => await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', scope }, { authorization: basic(client) })
  const narrowed = await ask(ADMIN, 'calculator:add')
  t.same(claimsOf(narrowed.body.access_token).permissions, ['calculator:add'])
  // What an MCP client does: ask for every scope a 401 challenge names.
  const all = await ask(REPORTING, 'calculator:add calculator:subtract calculator:divide calculator:sqrt calculator:whoami')
  t.equal(all.status, 200, 'more than the client holds: it gets what it holds of it')
  t.equal(all.body.scope, 'calculator:add calculator:whoami', 'and the response says which')
  t.same(claimsOf(all.body.access_token).permissions, ['calculator:add', 'calculator:whoami'])
  const wildcard = await ask(REPORTING, 'calculator:*')
  t.equal(wildcard.body.scope, 'calculator:add calculator:whoami', 'a broader scope asked for meets the narrower ones held')
  const duplicated = await ask(REPORTING, 'calculator:add  calculator:add')
  t.equal(duplicated.body.scope, 'calculator:add', 'each scope once')
  const outside = await ask(REPORTING, 'calculator:divide calculator:sqrt')
  t.equal(outside.status, 400)
  t.same(outside.body, { error: 'invalid_scope', error_description: 'none of the requested scopes is granted to this client' })
  for (const malformed of ['calculator:add\tcalculator:whoami', 'calculator:"add"', 'calculator:\\add', 'calculator:añadir']) {
    const answer = await ask(REPORTING, malformed)
    t.equal(answer.body.error, 'invalid_scope', `malformed: ${JSON.stringify(malformed)}`)
  }
  const empty = await ask(REPORTING, '')
  t.equal(empty.body.scope, 'calculator:add calculator:whoami', 'an empty scope is no scope (RFC 6749 §3.1)')
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
  const narrowed = await refresh(origin, start.refresh, ADMIN, { scope: 'calculator:sqrt' })
  t.same(claimsOf(narrowed.body.access_token).permissions, ['calculator:sqrt'])
  const widened = await refresh(origin, String(narrowed.body.refresh_token), ADMIN, { scope: 'calculator:divide' })
  t.equal(widened.body.error, 'invalid_scope')
  const partly = await refresh(origin, String(narrowed.body.refresh_token), ADMIN, { scope: 'calculator:sqrt calculator:divide' })
  t.equal(partly.body.scope, 'calculator:sqrt', 'partly outside the grant: the intersection')
  const whole = await refresh(origin, String(partly.body.refresh_token), ADMIN)
  t.equal(whole.body.scope, 'calculator:add calculator:sqrt', 'a narrowed refresh keeps the refresh token\'s own scope (RFC 6749 §6)')

  const other = await tokens(origin, ADMIN)
  const stolen = await refresh(origin, other.refresh, REPORTING)
  t.equal(stolen.body.error, 'invalid_grant')
  const owner = await refresh(origin, other.refresh, ADMIN)
  t.equal(owner.status, 200, 'another client\'s attempt did not use it up')
  const reuses = server.logs.records().filter((r) => r.reason === 'refresh_token_reuse').length
  const usedByAnother = await refresh(origin, other.refresh, REPORTING)
  t.equal(usedByAnother.body.error, 'invalid_grant', 'a used one presented by another client')
  t.equal((await refresh(origin, String(owner.body.refresh_token), ADMIN)).status, 200, 'does not revoke the owner\'s family')
  t.equal(server.logs.records().filter((r) => r.reason === 'refresh_token_reuse').length, reuses, 'and is not reported as reuse')
})

t.test('a refused refresh leaves the refresh token as it was', async (t) => {
  const pair = await tokens(origin)
  const reuses = server.logs.records().filter((r) => r.reason === 'refresh_token_reuse').length
  const refusals: Array<[string, Record<string, string>, string]> = [
    ['a scope the client does not hold', { scope: 'calculator:divide' }, 'invalid_scope'],
    ['a malformed scope', { scope: 'calculator:"add"' }, 'invalid_scope'],
    ['another resource', { resource: 'https://elsewhere.test/mcp' }, 'invalid_target'],
    ['a malformed resource', { resource: 'not a uri' }, 'invalid_target']
  ]
  for (const [name, extra, error] of refusals) {
    const answer = await refresh(origin, pair.refresh, REPORTING, extra)
    t.equal(answer.body.error, error, `${name}: ${error}`)
  }
  t.equal(await mcpStatus(pair.access), 200, 'no family was revoked')
  const retried = await refresh(origin, pair.refresh, REPORTING)
  t.equal(retried.status, 200, 'the refresh token still works')
  t.equal(await mcpStatus(String(retried.body.access_token)), 200)
  t.equal(server.logs.records().filter((r) => r.reason === 'refresh_token_reuse').length, reuses, 'nothing was taken for reuse')
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
  const { parseConfig } = await import('../../deployment.js')
  const { ConfigError } = await import('../../core/problems.js')
  const problems = (doc: unknown): string[] => {
    try { parseConfig(doc, { env: {} }); return [] } catch (error) { return error instanceof ConfigError ? error.problems.map((p) => `${p.path}: ${p.message}`) : [String(error)] }
  }
  t.match(problems({ auth: { strategy: 'jwt', jwt: { secret: 'x'.repeat(40), issue: { clients: [{ id: 'a', secretHash: 'x', permissions: [] }] } } } }), [
    /auth\.jwt\.issue\.clients\[0\]\.secretHash: expected the output of `fastify-mcp-auth hash-password`/
  ])
  const { hashPassword } = await import('../../plugins/credentials/password-hash.js')
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

t.test('parameters: each at most once, strings only, empty as omitted, unknown ones ignored; small bodies', async (t) => {
  const raw = async (path: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(new URL(path, origin), { method: 'POST', headers, body })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }
  const form = (body: string, headers: Record<string, string> = { authorization: basic(REPORTING) }) =>
    raw('/oauth/token', body, { 'content-type': 'application/x-www-form-urlencoded', ...headers })
  const json = (body: unknown, headers: Record<string, string> = { authorization: basic(REPORTING) }) =>
    raw('/oauth/token', JSON.stringify(body), { 'content-type': 'application/json', ...headers })
  const pair = await tokens(origin)
  const refreshToken = encodeURIComponent(pair.refresh)
  const refused: Array<[string, Promise<{ status: number, body: Record<string, unknown> }>]> = [
    ['scope twice', form('grant_type=client_credentials&scope=calculator:add&scope=calculator:whoami')],
    ['refresh_token twice', form(`grant_type=refresh_token&refresh_token=${refreshToken}&refresh_token=${refreshToken}`)],
    ['client_id twice (a 400, not a 401)', form(`grant_type=client_credentials&client_id=${REPORTING.id}&client_id=${REPORTING.id}&client_secret=${encodeURIComponent(REPORTING.secret)}`, {})],
    ['client_secret twice', form(`grant_type=client_credentials&client_id=${REPORTING.id}&client_secret=a&client_secret=b`, {})],
    ['a number', json({ grant_type: 'client_credentials', scope: 1 })],
    ['an array in JSON', json({ grant_type: ['client_credentials'] })],
    ['an object', json({ grant_type: 'client_credentials', resource: { href: 'https://calc.test/mcp' } })],
    ['null', json({ grant_type: null })],
    ['a client secret that is not a string', json({ grant_type: 'client_credentials', client_id: REPORTING.id, client_secret: { length: 1 } }, {})],
    ['a JSON array body', json([['grant_type', 'client_credentials']])],
    ['a JSON string body', json('grant_type=client_credentials')],
    ['a JSON null body', json(null)],
    ['malformed JSON', raw('/oauth/token', `{"client_secret": "${REPORTING.secret}", oops}`, { 'content-type': 'application/json' })],
    ['a __proto__ key in JSON', raw('/oauth/token', '{"__proto__": {"grant_type": "client_credentials"}}', { 'content-type': 'application/json', authorization: basic(REPORTING) })],
    ['a __proto__ field in a form', form('__proto__=grant_type&grant_type=')],
    ['an empty JSON body', raw('/oauth/token', '', { 'content-type': 'application/json', authorization: basic(REPORTING) })],
    ['a huge body', form(`grant_type=client_credentials&scope=${'calculator:add '.repeat(2000)}`)],
    ['an empty grant_type (as if omitted)', form('grant_type=')],
    ['an empty refresh_token (as if omitted)', form('grant_type=refresh_token&refresh_token=')],
    ['token twice at /oauth/revoke', raw('/oauth/revoke', `token=${refreshToken}&token=${refreshToken}`, { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(REPORTING) })]
  ]
  for (const [name, answer] of refused) {
    const { status, body } = await answer
    t.equal(status, 400, `${name}: 400`)
    t.equal(body.error, 'invalid_request', `${name}: invalid_request`)
    t.type(body.error_description, 'string')
    t.notOk(String(body.error_description).includes(REPORTING.secret), `${name}: the description does not echo the request`)
  }
  t.equal((await form(`grant_type=client_credentials&scope=${'calculator:add '.repeat(2000)}`)).body.error_description, 'request body is too large')
  const ignored = await form('grant_type=client_credentials&foo=1&foo=2&scope=')
  t.equal(ignored.status, 200, 'unknown parameters are ignored, even twice (RFC 6749 §3.2); an empty scope is no scope')
  t.equal(ignored.body.scope, 'calculator:add calculator:whoami')
  t.equal((await refresh(origin, pair.refresh)).status, 200, 'none of the refused requests used the refresh token up')
})

t.test('answers do not tell whether a client or a token exists, or whose it is', async (t) => {
  const ask = async (authorization: string, form: Record<string, string> = { grant_type: 'client_credentials' }) => await oauthPost(origin, '/oauth/token', form, { authorization })
  const unknown = await ask(basic({ id: 'nobody', secret: REPORTING.secret }))
  const wrong = await ask(basic({ id: REPORTING.id, secret: 'not the secret' }))
  t.same([unknown.status, unknown.body, unknown.headers.get('www-authenticate')], [wrong.status, wrong.body, wrong.headers.get('www-authenticate')], 'an unknown client and a wrong secret: one answer')
  t.equal(unknown.status, 401)

  const admins = await tokens(origin, ADMIN)
  const used = await tokens(origin, REPORTING)
  await refresh(origin, used.refresh)
  const answers = [
    await refresh(origin, admins.refresh, REPORTING),
    await refresh(origin, 'never-issued', REPORTING),
    await refresh(origin, used.refresh, ADMIN)
  ]
  t.same(answers.map((answer) => [answer.status, answer.body]), Array(3).fill([400, { error: 'invalid_grant', error_description: 'refresh token is invalid, expired, revoked or already used' }]),
    'another client\'s live token, an unknown one, another client\'s used one: one answer')

  const revoked = await oauthPost(origin, '/oauth/revoke', { token: admins.refresh }, { authorization: basic(REPORTING) })
  t.same([revoked.status, revoked.body], [200, {}])
  t.equal((await refresh(origin, admins.refresh, ADMIN)).status, 200, 'another client cannot revoke a refresh token it was not issued')
  t.notOk(server.logs.text.includes(admins.refresh) || server.logs.text.includes(used.refresh), 'no refresh token in the logs')
  t.notOk(server.logs.text.includes(REPORTING.secret) || server.logs.text.includes(ADMIN.secret), 'no client secret in the logs')
})
