import t from 'tap'
import { callTool, connect, post, addCall } from '../helpers/client.js'
import { startIdentityProvider } from '../helpers/oidc-provider.js'
import { listen, testConfig } from '../helpers/server.js'

const SCOPES = 'calculator:add calculator:whoami calculator:divide'

t.test('tokens from a real OAuth server, verified over its JWKS', async (t) => {
  const idp = await startIdentityProvider(SCOPES)
  t.teardown(idp.close)
  const publicUrl = 'https://calc.test'
  const resource = `${publicUrl}/mcp`
  const server = await listen(testConfig({
    server: { publicUrl },
    auth: { strategy: 'jwt', jwt: { jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: resource, permissionsClaim: 'permissions' } }
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
  t.not(JSON.parse(Buffer.from(rotated.split('.')[0] ?? '', 'base64url').toString()).kid, JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).kid, 'the provider signs with a new key')
  const afterRotation = await post(server.url, addCall, { authorization: `Bearer ${rotated}` })
  t.equal(afterRotation.status, 200, 'a token signed with the rotated key is accepted without a restart')
  t.equal(idp.jwksFetches(), fetchesBefore + 1, 'the new kid caused one JWKS fetch')
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the old key still works while published')
})

t.test('made-up kids cause at most one JWKS fetch per interval', async (t) => {
  const idp = await startIdentityProvider(SCOPES)
  t.teardown(idp.close)
  const server = await listen(testConfig({
    auth: { strategy: 'jwt', jwt: { jwksUrl: idp.jwksUrl, issuer: idp.issuer, jwksRefetchInterval: '1h' } }
  }))
  t.teardown(server.close)
  const token = await idp.token('calculator:add', 'https://calc.test/mcp')
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const withKid = (kid: string): string => {
    const decoded = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>
    return `${Buffer.from(JSON.stringify({ ...decoded, kid })).toString('base64url')}.${payload}.${signature}`
  }
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'the real key')
  const afterFirst = idp.jwksFetches()
  for (let i = 0; i < 20; i++) {
    t.equal((await post(server.url, addCall, { authorization: `Bearer ${withKid(`made-up-${i}`)}` })).status, 401)
  }
  t.ok(idp.jwksFetches() - afterFirst <= 1, `20 unknown kids, ${idp.jwksFetches() - afterFirst} fetch(es)`)
  t.equal((await post(server.url, addCall, { authorization: `Bearer ${token}` })).status, 200, 'known kids keep working')
})
