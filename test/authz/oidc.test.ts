import t, { type Test } from 'tap'
import { callTool, connect, post, addCall } from '../helpers/client.js'
import { startIdentityProvider } from '../helpers/oidc-provider.js'
import { listen, testConfig } from '../helpers/server.js'

const SCOPES = 'calculator:add calculator:whoami calculator:divide'
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>
/** The token with its header changed, signature kept: what anyone can send without the provider's key. */
const withHeader = (token: string, changes: Record<string, unknown>) => {
  const [, payload, signature] = token.split('.') as [string, string, string]
  return `${Buffer.from(JSON.stringify({ ...headerOf(token), ...changes })).toString('base64url')}.${payload}.${signature}`
}

/** The jwt strategy with the identity provider's JWKS, refetched at most once an hour: the cases below count fetches. */
async function behindIdentityProvider (t: Test, jwt: Record<string, unknown> = {}) {
  const idp = await startIdentityProvider(SCOPES)
  t.teardown(idp.close)
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: { jwksUrl: idp.jwksUrl, issuer: idp.issuer, jwksRefetchInterval: '1h', ...jwt } } }))
  t.teardown(server.close)
  return { idp, server }
}

t.test('tokens from a real OAuth server, verified over its JWKS', async (t) => {
  const idp = await startIdentityProvider(SCOPES)
  t.teardown(idp.close)
  const publicUrl = 'https://calc.test'
  const resource = `${publicUrl}/mcp`
  const server = await listen(testConfig({
    server: { publicUrl },
    auth: { strategy: 'jwt', jwt: { jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: resource, permissionsClaim: 'permissions', jwksRefetchInterval: '400ms' } }
  }))
  t.teardown(server.close)

  const token = await idp.token('calculator:add calculator:whoami', resource)
  const { client, close } = await connect(server.url, { authorization: `Bearer ${token}` })
  t.teardown(close)
  t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'whoami'], 'permissions from the scope claim')
  t.same((await callTool(client, 'add', { a: 40, b: 2 })).structuredContent, { result: 42 })
  t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'calculator-client', strategy: 'jwt', permissions: ['calculator:add', 'calculator:whoami'] })

  const otherAudience = await idp.token('calculator:add', 'https://other.test/mcp')
  const refused = await post(server.url, addCall, { authorization: `Bearer ${otherAudience}` })
  t.equal(refused.status, 401, 'a token for another resource is refused')
  t.match(refused.headers.get('www-authenticate'), /error="invalid_token"/)

  const fetchesBefore = idp.jwksFetches()
  await idp.rotateKey()
  const rotated = await idp.token('calculator:add', resource)
  t.not(headerOf(rotated).kid, headerOf(token).kid, 'the provider signs with a new key')
  await sleep(500) // past jwksRefetchInterval: the fetch that returned the first key set may be followed by another
  const afterRotation = await post(server.url, addCall, { authorization: `Bearer ${rotated}` })
  t.equal(afterRotation.status, 200, 'a token signed with the rotated key is accepted without a restart')
  t.equal(idp.jwksFetches(), fetchesBefore + 1, 'the new kid caused one JWKS fetch')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the old key still works while published')

  await idp.rotateKey()
  const again = await idp.token('calculator:add', resource)
  await sleep(500)
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${withHeader(token, { kid: 'made-up' })}` })).status, 401, 'a made-up kid is refused')
  t.equal(idp.jwksFetches(), fetchesBefore + 2, 'and caused the one fetch allowed in this interval')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${again}` })).status, 200, 'the key that fetch returned works at once')
  t.equal(idp.jwksFetches(), fetchesBefore + 2, 'without another fetch')
})

t.test('a made-up kid first, on a fresh server, blocks no real key', async (t) => {
  const { idp, server } = await behindIdentityProvider(t)
  const token = await idp.token('calculator:add', 'https://calc.test/mcp')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${withHeader(token, { kid: 'made-up' })}` })).status, 401, 'the made-up kid')
  t.equal(idp.jwksFetches(), 1, 'one fetch, which returned the whole key set')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'a real kid not seen before works')
  t.equal(idp.jwksFetches(), 1, 'without a fetch')
})

t.test('a real kid with another alg: refused without a fetch, and the key is not forgotten', async (t) => {
  const { idp, server } = await behindIdentityProvider(t, { algorithms: ['RS256', 'RS384', 'PS256'] })
  const token = await idp.token('calculator:add', 'https://calc.test/mcp')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the real token')
  const fetches = idp.jwksFetches()
  for (const alg of ['RS384', 'PS256', 'HS256', 'none', 'made-up', 'ES256', 42, null]) {
    for (const signature of ['kept', 'dropped']) {
      const forged = withHeader(token, { alg })
      const sent = signature === 'kept' ? forged : `${forged.split('.').slice(0, 2).join('.')}.`
      const response = await post(server.url, addCall, { authorization: `Bearer ${sent}` })
      t.equal(response.status, 401, `alg ${JSON.stringify(alg)}, signature ${signature}`)
      t.match(response.headers.get('www-authenticate'), /error="invalid_token"/)
    }
  }
  for (const kid of [42, null, '', ['x'], { kid: 'x' }]) {
    t.equal((await post(server.url, addCall, { authorization: `Bearer ${withHeader(token, { kid })}` })).status, 401, `kid ${JSON.stringify(kid)}`)
  }
  t.equal(idp.jwksFetches(), fetches, 'no fetch')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the key still works')
})

t.test('made-up kids cause at most one JWKS fetch per interval', async (t) => {
  const { idp, server } = await behindIdentityProvider(t)
  const token = await idp.token('calculator:add', 'https://calc.test/mcp')
  const withKid = (kid: string): string => withHeader(token, { kid })
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the real key')
  const afterFirst = idp.jwksFetches()
  for (let i = 0; i < 20; i++) {
    t.equal((await post(server.url, addCall, { authorization: `Bearer ${withKid(`made-up-${i}`)}` })).status, 401)
  }
  t.equal(idp.jwksFetches() - afterFirst, 0, '20 unknown kids within the interval after a fetch: no fetch')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'known kids keep working')
})
