import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { addCall, callTool, connect, post } from '../helpers/client.js'
import { API_KEY, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, FAST_SCRYPT, JWT_SECRET, basicHeader, jwtFor, jwtSection } from '../helpers/credentials.js'
import { ADMIN, REPORTING, basic, issuingConfig, oauthPost, tokens } from '../helpers/issuing.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { hashPassword } from '../../plugins/auth/password-hash.js'

// Every strategy, through success and every failure mode, with everything logged at debug level
// and the audit log in a file: no secret may appear anywhere in what was written.
const METRICS_KEY = 'metrics-key-0123456789abcdefghijklmn'
const secrets = new Set<string>([API_KEY, BEARER_TOKEN, BASIC_PASSWORD, JWT_SECRET, REPORTING.secret, ADMIN.secret, METRICS_KEY])
const output: string[] = []

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
