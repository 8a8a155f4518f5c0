import t from 'tap'
import { listen } from '../helpers/server.js'
import { ADMIN, basic, issuingConfig, oauthPost, REPORTING } from '../helpers/issuing.js'

const wrong = { id: REPORTING.id, secret: 'not the secret, 0123456789' }

t.test('client authentication at the token and revocation endpoints is throttled like any login', async (t) => {
  const server = await listen(issuingConfig(undefined, { rateLimit: { failedAuth: { max: 3, timeWindow: '1m' } } }))
  t.teardown(server.close)
  for (let i = 0; i < 3; i++) {
    const refused = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(wrong) })
    t.equal(refused.status, 401, `wrong secret ${i + 1}`)
    t.equal(refused.body.error, 'invalid_client')
  }
  for (const path of ['/oauth/token', '/oauth/revoke']) {
    const throttled = await oauthPost(server.url, path, { grant_type: 'client_credentials', token: 'x' }, { authorization: basic(wrong) })
    t.equal(throttled.status, 429, `${path}: past the limit, no more secret checks`)
    t.match(throttled.headers.get('retry-after'), /^\d+$/)
    t.same(Object.keys(throttled.body).sort(), ['error', 'error_description'], `${path}: the RFC 6749 §5.2 shape`)
    t.equal(throttled.body.error, 'temporarily_unavailable')
  }
  const valid = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(REPORTING) })
  t.equal(valid.status, 429, 'the address is over its limit: a secret not yet remembered is not checked either')
  const auth = server.logs.records().filter((record) => record.event === 'auth')
  t.match(auth, [
    { strategy: 'client', outcome: 'failure', reason: 'invalid_credentials' },
    { strategy: 'client', outcome: 'failure', reason: 'invalid_credentials' },
    { strategy: 'client', outcome: 'failure', reason: 'invalid_credentials' },
    { strategy: 'client', outcome: 'throttled', reason: 'too_many_failures' },
    { strategy: 'client', outcome: 'throttled', reason: 'too_many_failures' },
    { strategy: 'client', outcome: 'throttled', reason: 'too_many_failures' }
  ], 'every attempt is audited')
  t.equal(auth.length, 6)
})

t.test('a remembered client secret keeps working from a throttled address', async (t) => {
  const server = await listen(issuingConfig(undefined, { rateLimit: { failedAuth: { max: 2, timeWindow: '1m' } } }))
  t.teardown(server.close)
  t.equal((await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(ADMIN) })).status, 200)
  for (let i = 0; i < 3; i++) await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(wrong) })
  const again = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(ADMIN) })
  t.equal(again.status, 200, 'no secret check runs for it, so nothing is refused')
  const audited = server.logs.records().filter((record) => record.event === 'auth' && record.outcome === 'success')
  t.match(audited, [{ strategy: 'client', principal: 'admin' }, { strategy: 'client', principal: 'admin' }])
})

t.test('a request without client credentials is audited as such and never counted', async (t) => {
  const server = await listen(issuingConfig(undefined, { rateLimit: { failedAuth: { max: 1, timeWindow: '1m' } } }))
  t.teardown(server.close)
  for (let i = 0; i < 5; i++) t.equal((await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' })).status, 401)
  t.match(server.logs.records().filter((record) => record.event === 'auth'), Array(5).fill({ strategy: 'client', outcome: 'failure', reason: 'missing_credentials' }))
  t.equal((await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(REPORTING) })).status, 200)
})

t.test('empty client_id and client_secret in the body are as if omitted (RFC 6749 §3.1)', async (t) => {
  const server = await listen(issuingConfig())
  t.teardown(server.close)
  const answer = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials', client_id: '', client_secret: '' }, { authorization: basic(REPORTING) })
  t.equal(answer.status, 200, 'Basic credentials and empty body fields: one method')
  const both = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials', client_id: REPORTING.id }, { authorization: basic(REPORTING) })
  t.equal(both.status, 400, 'a client_id in the body as well: two methods')
  t.equal(both.body.error, 'invalid_request')
})

t.test('a Host the server does not answer to gets 403 in each endpoint\'s own error format', async (t) => {
  const server = await listen(issuingConfig(undefined, { publicUrl: null }))
  t.teardown(server.close)
  const evil = { host: 'evil.example' }
  const token = await server.app.inject({ method: 'POST', url: '/oauth/token', headers: { ...evil, authorization: basic(REPORTING), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })
  t.equal(token.statusCode, 403)
  t.same(token.json(), { error: 'invalid_request', error_description: 'Host header not allowed' })
  t.equal(token.headers['cache-control'], 'no-store')
  for (const url of ['/.well-known/oauth-authorization-server', '/.well-known/oauth-protected-resource/mcp']) {
    const document = await server.app.inject({ method: 'GET', url, headers: evil })
    t.equal(document.statusCode, 403, url)
    t.match(document.json(), { statusCode: 403, code: 'MCP_AUTH_HOST_NOT_ALLOWED', message: 'Host header not allowed' })
  }
  t.equal(server.logs.records().filter((record) => record.event === 'auth').length, 0, 'refused before any client check')
})
