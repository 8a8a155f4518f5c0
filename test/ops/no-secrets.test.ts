import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { addCall, callTool, connect, post } from '../helpers/client.js'
import { API_KEY, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, FAST_SCRYPT, JWT_SECRET, basicHeader, jwtFor, jwtSection } from '../helpers/credentials.js'
import { ADMIN, REPORTING, basic, issuingConfig, oauthPost, tokens } from '../helpers/issuing.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'

// Every strategy, through success and every failure mode, with everything logged at debug level
// and the audit log in a file: no secret may appear anywhere in what was written.
const METRICS_KEY = 'metrics-key-0123456789abcdefghijklmn'
const secrets = new Set<string>([API_KEY, BEARER_TOKEN, BASIC_PASSWORD, JWT_SECRET, REPORTING.secret, ADMIN.secret, METRICS_KEY])
const output: string[] = []

/** A raw request (fetch cannot send an oversized header); resolves with the status, or 0 when the connection was dropped. */
async function rawStatus (url: URL, headers: Record<string, string>): Promise<number> {
  return await new Promise((resolve) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', () => resolve(0))
    request.end(JSON.stringify(addCall))
  })
}

/**
 * Every error status the server answers, each with the credential in the query string and in
 * its header: 404, 405, 413, 415, 400, 406 and 431.
 */
async function errorStatuses (t: Test, server: TestServer, good: Record<string, string>): Promise<void> {
  const credential = (Object.values(good)[0] ?? '').replace(/^(Bearer|Basic) /, '')
  const query = `?token=${encodeURIComponent(credential)}&access_token=${encodeURIComponent(credential)}`
  const at = (path: string) => new URL(path + query, server.url)
  const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
  const statuses: Array<[string, number, Promise<Response> | Promise<number>]> = [
    ['unknown path', 404, fetch(at('/nothing/here'), { headers: good })],
    ['unknown path, no credential', 404, fetch(at('/.well-known/nothing'))],
    ['GET on a stateless endpoint', 405, fetch(at(server.url.pathname), { headers: { ...good, accept: 'text/event-stream' } })],
    ['body too large', 413, fetch(at(server.url.pathname), { method: 'POST', headers: { ...good, ...json }, body: JSON.stringify({ ...addCall, pad: credential.repeat(Math.ceil(2_000_000 / credential.length)) }) })],
    ['not JSON', 415, fetch(at(server.url.pathname), { method: 'POST', headers: { ...good, 'content-type': 'text/plain', accept: json.accept }, body: credential })],
    ['unreadable JSON', 400, fetch(at(server.url.pathname), { method: 'POST', headers: { ...good, ...json }, body: `{"secret":"${credential}"` })],
    ['unacceptable Accept', 406, fetch(at(server.url.pathname), { method: 'POST', headers: { ...good, 'content-type': 'application/json', accept: 'text/html' }, body: JSON.stringify(addCall) })],
    ['headers too large', 431, rawStatus(at(server.url.pathname), { ...good, 'x-padding': credential.repeat(Math.ceil(40_000 / credential.length)) })]
  ]
  for (const [name, status, answer] of statuses) {
    const settled = await answer
    t.equal(typeof settled === 'number' ? settled : settled.status, status, name)
    if (typeof settled !== 'number') await settled.body?.cancel()
  }
}

async function exercise (server: TestServer, good: Record<string, string>, bad: Array<Record<string, string>>): Promise<void> {
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, good, generation)
    await callTool(client, 'add', { a: 1, b: 2 })
    await callTool(client, 'divide', { a: 1, b: 0 }).catch(() => undefined) // denied: a permission failure is logged too
    await close()
  }
  for (const headers of bad) await post(server.url, addCall, headers)
  for (const value of Object.values(good)) {
    const credential = value.replace(/^(Bearer|Basic) /, '')
    await post(`${server.url.href}?token=${encodeURIComponent(credential)}&api_key=${encodeURIComponent(credential)}`, addCall)
    await post(server.url, '{not json', good)
  }
}

t.test('api-key, bearer, basic, jwt, a list, the token endpoint and metrics', async (t) => {
  const dir = t.testdir({})
  const passwordHash = await hashPassword(BASIC_PASSWORD, FAST_SCRYPT)
  const jwt = jwtFor('sweeper', ['*'])
  secrets.add(jwt).add(jwt.split('.')[2] ?? jwt).add(basicHeader(BASIC_USER, BASIC_PASSWORD).slice(6))
  const variants: Array<[Record<string, unknown>, Record<string, string>, Array<Record<string, string>>]> = [
    [{ strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['calculator:add'] }] } },
      { 'x-api-key': API_KEY }, [{ 'x-api-key': API_KEY + 'x' }, { 'x-api-key': API_KEY.slice(1) }, { authorization: `Bearer ${API_KEY}` }]],
    [{ strategy: 'bearer', bearer: { tokens: [{ id: 't', token: BEARER_TOKEN, permissions: ['calculator:add'] }] } },
      { authorization: `Bearer ${BEARER_TOKEN}` }, [{ authorization: `Bearer ${BEARER_TOKEN}x` }, { authorization: `Basic ${BEARER_TOKEN}` }, { authorization: `Bearer ${BEARER_TOKEN} ${BEARER_TOKEN}` }]],
    [{ strategy: 'basic', basic: { users: [{ username: BASIC_USER, passwordHash, permissions: ['calculator:add'] }] } },
      { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD) }, [{ authorization: basicHeader(BASIC_USER, BASIC_PASSWORD + 'x') }, { authorization: basicHeader('nobody', BASIC_PASSWORD) }, { authorization: `Basic ${Buffer.from(BASIC_PASSWORD).toString('base64')}` }, { authorization: basicHeader(BASIC_USER, BASIC_PASSWORD + 'y') }]],
    [{ strategy: 'jwt', jwt: jwtSection },
      { authorization: `Bearer ${jwt}` }, [{ authorization: `Bearer ${jwt.slice(0, -3)}` }, { authorization: `Bearer ${jwt}.${jwt}` }, { authorization: `bearer ${jwt.split('.').slice(0, 2).join('.')}.` }]],
    [{ strategy: ['jwt', 'api-key'], jwt: jwtSection, apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['calculator:add'] }] } },
      { 'x-api-key': API_KEY }, [{ 'x-api-key': API_KEY + 'x', authorization: `Bearer ${jwt}x` }]]
  ]
  for (const [index, [auth, good, bad]] of variants.entries()) {
    const auditFile = join(dir, `audit-${index}.log`)
    const server = await listen(testConfig({ auth, audit: { file: auditFile, includeArguments: true }, rateLimit: { failedAuth: { max: 3, timeWindow: '1m' } } }))
    await errorStatuses(t, server, good)
    await exercise(server, good, bad)
    await server.close()
    output.push(server.logs.text, readFileSync(auditFile, 'utf8'))
  }

  const issuing = issuingConfig()
  const server = await listen({ ...issuing, metrics: { ...issuing.metrics, enabled: true, key: METRICS_KEY }, logger: { level: 'trace' } })
  const pair = await tokens(server.url.origin)
  secrets.add(pair.access).add(pair.refresh)
  await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh }, { authorization: basic(REPORTING) })
  await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh }, { authorization: basic(REPORTING) })
  await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'client_credentials', client_id: ADMIN.id, client_secret: ADMIN.secret + 'x' })
  await oauthPost(server.url.origin, '/oauth/revoke', { token: pair.access }, { authorization: basic(REPORTING) })
  const tokenErrors = await Promise.all([
    fetch(new URL(`/oauth/token?client_secret=${encodeURIComponent(ADMIN.secret)}`, server.url), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: ADMIN.secret }),
    fetch(new URL('/oauth/token', server.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_secret=${encodeURIComponent(ADMIN.secret)}&pad=${'x'.repeat(20_000)}` }),
    fetch(new URL('/oauth/token', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"client_secret":"${ADMIN.secret}"` }),
    fetch(new URL(`/oauth/token?refresh_token=${encodeURIComponent(pair.refresh)}`, server.url), { method: 'GET' })
  ])
  t.same(tokenErrors.map((response) => response.status), [400, 400, 400, 404], 'the token endpoint: wrong media type, too large, bad JSON; GET')
  await post(server.url, addCall, { authorization: `Bearer ${pair.access}` })
  await fetch(new URL('/metrics', server.url), { headers: { authorization: `Bearer ${METRICS_KEY}` } })
  await fetch(new URL('/metrics', server.url), { headers: { authorization: `Bearer ${METRICS_KEY}x` } })
  await server.close()
  output.push(server.logs.text)

  const everything = output.join('\n')
  t.ok(everything.length > 20_000, `a lot was written (${everything.length} characters)`)
  t.match(everything, /"outcome":"failure"/)
  t.match(everything, /"outcome":"throttled"/)
  t.match(everything, /"reason":"refresh_token_reuse"/)
  for (const secret of secrets) {
    t.notOk(everything.includes(secret), `not written anywhere: ${secret.slice(0, 6)}… (${secret.length} characters)`)
    if (secret.length > 24) t.notOk(everything.includes(secret.slice(4, 20)), `not even in part: ${secret.slice(0, 6)}…`)
  }
})

t.test('HTTP parse errors (431, 400) are logged at trace level without the bytes that failed to parse', async (t) => {
  const server = await listen({ ...testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } } }), logger: { level: 'trace' } })
  t.equal(await rawStatus(server.url, { 'x-api-key': API_KEY, 'x-padding': API_KEY.repeat(1000) }), 431)
  const malformed = await new Promise<string>((resolve) => {
    const socket = tcpConnect(Number(server.url.port), '127.0.0.1', () => {
      socket.end(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${API_KEY}\r\n${API_KEY} no colon\r\n\r\n`)
    })
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
    socket.on('close', () => resolve(answer))
  })
  t.match(malformed, /^HTTP\/1\.1 400 /, 'a malformed header line: 400')
  await server.close()
  const lines = server.logs.records().filter((record) => typeof record.msg === 'string' && record.msg.startsWith('client '))
  t.ok(lines.length >= 1, 'the client error is logged')
  t.notMatch(server.logs.text, /rawPacket/)
  t.notOk(server.logs.text.includes(API_KEY), 'not the key')
  t.notOk(server.logs.text.includes(Buffer.from(API_KEY).toJSON().data.join(',')), 'not even as bytes')
})
