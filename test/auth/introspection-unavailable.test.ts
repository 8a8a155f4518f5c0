import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { addCall, post } from '../helpers/client.js'
import { BASIC_CLIENT, startAuthorizationServer } from '../helpers/introspection-provider.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'

// When the authorization server cannot be asked, or answers something that is not an answer,
// the request fails closed: 503 MCP_AUTH_INTROSPECTION_UNAVAILABLE, never a 500, never accepted.
// The hostile answers come from a stub; the real server's own failures from oidc-provider.

const RESOURCE = 'https://calc.test/mcp'
const TOKEN = 'opaque-token-0123456789abcdefghijklmnopqrstuv'
const SECRET = 'stub-client-secret-0123456789'

interface Stub { url: string, calls: () => number, answer: (status: number, body: string) => void }

/** An introspection endpoint that answers what the test sets. */
async function stub (t: Test): Promise<Stub> {
  let reply = { status: 200, body: '{"active":false}' }
  let calls = 0
  const server: Server = createServer((request, response) => {
    calls++
    request.resume()
    request.on('end', () => response.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
    calls: () => calls,
    answer: (status, body) => { reply = { status, body } }
  }
}

async function serve (t: Test, introspection: Record<string, unknown>): Promise<TestServer> {
  const server = await listen(testConfig({ auth: { strategy: 'introspection', introspection: { issuer: 'https://as.test', audience: RESOURCE, clientId: 'rs', clientSecret: SECRET, ...introspection } } }))
  t.teardown(server.close)
  return server
}

async function assertUnavailable (t: Test, server: TestServer, token: string, what: string): Promise<void> {
  const answer = await post(server.url, addCall, { authorization: `Bearer ${token}` })
  t.equal(answer.status, 503, what)
  t.equal(answer.headers.get('retry-after'), '1', `${what}: Retry-After`)
  t.match(await answer.json(), { statusCode: 503, code: 'MCP_AUTH_INTROSPECTION_UNAVAILABLE', message: 'authorization server unavailable, try again shortly' }, what)
}

function linesAt (server: TestServer, level: number): Array<Record<string, unknown>> {
  return server.logs.records().filter((record) => record.level === level && record.event === 'introspection')
}

function noSecretsLogged (t: Test, server: TestServer, secrets: readonly string[]): void {
  t.notOk(server.logs.records().some((record) => record.msg === 'request failed'), 'no request failed as an internal error')
  for (const secret of secrets) t.notOk(server.logs.text.includes(secret), 'no token or secret in the logs')
}

t.test('an authorization server that is down or never answers: 503', async (t) => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const down = await serve(t, { introspectionEndpoint: `http://127.0.0.1:${port}/introspect` })
  await assertUnavailable(t, down, TOKEN, 'nothing listens at the endpoint')
  t.match(linesAt(down, 40), [{ reason: 'unreachable' }], 'a warning says why')

  const as = await startAuthorizationServer('calculator:add')
  t.teardown(as.close)
  const gate = as.hold()
  t.teardown(gate.release)
  const slow = await serve(t, { introspectionEndpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: BASIC_CLIENT.clientId, clientSecret: BASIC_CLIENT.clientSecret, timeout: '200ms' })
  await assertUnavailable(t, slow, TOKEN, 'the server holds the call past the timeout')
  t.match(linesAt(slow, 40), [{ reason: 'timed out' }])
  noSecretsLogged(t, slow, [TOKEN, BASIC_CLIENT.clientSecret])
})

t.test('5xx, a redirect, or an answer that is not a JSON object: 503; errors are never cached', async (t) => {
  const endpoint = await stub(t)
  const server = await serve(t, { introspectionEndpoint: endpoint.url })
  const cases: Array<[number, string, string, string]> = [
    [500, '{"error":"server_error"}', 'HTTP 500', 'a 500'],
    [502, '<html>bad gateway</html>', 'HTTP 502', 'a 502 from a proxy'],
    [200, 'not json', 'the answer is not JSON', 'a 200 that is not JSON'],
    [200, '[{"active":true}]', 'the answer is not a JSON object', 'a JSON array'],
    [302, '', 'HTTP 302', 'a redirect, not followed']
  ]
  for (const [status, body, reason, what] of cases) {
    endpoint.answer(status, body)
    await assertUnavailable(t, server, TOKEN, what)
    t.match(linesAt(server, 40).at(-1), { reason }, `${what}: the warning says ${reason}`)
  }
  endpoint.answer(200, JSON.stringify({ active: true, exp: Math.floor(Date.now() / 1000) + 60, iss: 'https://as.test', aud: RESOURCE, client_id: 'reporting', scope: 'calculator:add' }))
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${TOKEN}` })).status, 200, 'once the server answers, the same token is accepted')
  t.equal(endpoint.calls(), cases.length + 1, 'every failure was a call of its own')
  noSecretsLogged(t, server, [TOKEN, SECRET])
})

t.test('answers that do not say active: true, exactly, refuse the token (401)', async (t) => {
  const endpoint = await stub(t)
  const server = await serve(t, { introspectionEndpoint: endpoint.url })
  const exp = Math.floor(Date.now() / 1000) + 60
  const good = { active: true, exp, iss: 'https://as.test', aud: RESOURCE, client_id: 'reporting', scope: 'calculator:add' }
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ ...good, active: 'true' }, 'inactive', 'active as a string'],
    [{ ...good, active: 1 }, 'inactive', 'active as a number'],
    [{ ...good, exp: String(exp) }, 'claim_type', 'exp as a string'],
    [{ ...good, exp: undefined }, 'no_expiry', 'no exp'],
    [{ ...good, nbf: exp }, 'not_yet_valid', 'nbf in the future'],
    [{ ...good, scope: ['calculator:add'] }, 'claim_type', 'scope as a list'],
    [{ ...good, aud: [RESOURCE, 7] }, 'claim_type', 'aud with a number'],
    [{ ...good, aud: ['https://other.test/mcp', 'https://calc.test'] }, 'wrong_audience', 'an audience list without this resource'],
    [{ ...good, token_type: 'DPoP' }, 'wrong_token_type', 'a DPoP-bound token'],
    [{ ...good, client_id: undefined }, 'no_subject', 'neither sub nor client_id'],
    [{ ...good, client_id: '' }, 'no_subject', 'an empty client_id']
  ]
  for (const [response, detail, what] of cases) {
    endpoint.answer(200, JSON.stringify(response))
    const answer = await post(server.url, addCall, { authorization: `Bearer ${TOKEN}` })
    t.equal(answer.status, 401, what)
    t.match(server.logs.records().filter((record) => record.event === 'auth').at(-1), { strategy: 'introspection', outcome: 'failure', reason: 'invalid_credentials', detail }, `${what}: ${detail}`)
  }
  endpoint.answer(200, JSON.stringify({ ...good, aud: ['https://other.test/mcp', RESOURCE], token_type: 'bearer', sub: 'ada' }))
  const accepted = await post(server.url, addCall, { authorization: `Bearer ${TOKEN}` })
  t.equal(accepted.status, 200, 'an audience list with this resource, token_type bearer in any case, and a sub')
  t.match(server.logs.records().filter((record) => record.event === 'auth').at(-1), { strategy: 'introspection', outcome: 'success', principal: 'ada' })
})

t.test('our own client credentials refused by the server: 503, and an error naming the misconfiguration', async (t) => {
  const as = await startAuthorizationServer('calculator:add')
  t.teardown(as.close)
  const wrong = 'wrong-secret-0123456789abcdef'
  const server = await serve(t, { introspectionEndpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: BASIC_CLIENT.clientId, clientSecret: wrong })
  const token = await as.token('calculator:add', RESOURCE)
  await assertUnavailable(t, server, token, 'a wrong client secret')
  t.match(linesAt(server, 50), [{ status: 401, error: 'invalid_client', clientId: BASIC_CLIENT.clientId, method: 'client_secret_basic', msg: /refused this server's introspection request \(HTTP 401 invalid_client\): check the introspection clientId and its clientSecret/ }])
  noSecretsLogged(t, server, [token, wrong, BASIC_CLIENT.clientSecret])
})
