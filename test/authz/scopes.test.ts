import t from 'tap'
import { addCall, callTool, connect, post, postModern } from '../helpers/client.js'
import { jwtFor, jwtSection } from '../helpers/credentials.js'
import { basic, issuingConfig, oauthPost, REPORTING } from '../helpers/issuing.js'
import { listen, testConfig } from '../helpers/server.js'
import { parseChallenge } from '../helpers/www-authenticate.js'

// The authorization rules of the 2026-07-28 revision, in both eras: scope hierarchies, one 403
// that names every scope a request needs, offline_access never asked for, and a minimal,
// never-empty scopes_supported.
const hierarchy = { 'calculator:admin': ['calculator:write'], 'calculator:write': ['calculator:read'] }
const toolPermissions = {
  add: 'calculator:write',
  subtract: 'calculator:write',
  multiply: 'calculator:write',
  divide: 'calculator:write',
  modulo: 'calculator:write',
  sqrt: 'calculator:read',
  whoami: 'calculator:read',
  power: 'calculator:admin'
}
const config = (mcp: Record<string, unknown> = {}) => testConfig({ auth: { strategy: 'jwt', jwt: { ...jwtSection, authorizationServers: ['https://issuer.test'] } }, mcp: { toolPermissions, scopeHierarchy: hierarchy, ...mcp } })
const bearer = (permissions: string[]) => ({ authorization: `Bearer ${jwtFor('carol', permissions)}` })

t.test('a broader scope implies the narrower ones, for tools/list and tools/call, in both eras', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, bearer(['calculator:write']), generation)
    t.teardown(close)
    t.same((await client.listTools()).tools.map((tool) => tool.name).sort(), ['add', 'divide', 'modulo', 'multiply', 'sqrt', 'subtract', 'whoami'],
      `${generation}: write implies read (sqrt, whoami), not admin (power)`)
    t.same((await callTool(client, 'sqrt', { x: 16 })).structuredContent, { result: 4 }, `${generation}: a read tool with a write scope`)
  }
  const admin = await connect(server.url, bearer(['calculator:admin']), 'modern')
  t.teardown(admin.close)
  t.equal((await admin.client.listTools()).tools.length, 8, 'admin implies everything, transitively')
  const refused = await postModern(server.url, 'tools/call', { name: 'power', arguments: { a: 2, b: 2 } }, bearer(['calculator:write']))
  t.equal(refused.status, 403)
  t.equal(parseChallenge(refused.headers.get('www-authenticate')).params.scope, 'calculator:admin')
})

t.test('scopes_supported is the smallest set that covers every tool, and challenges name it', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).json() as { scopes_supported: string[] }
  t.same(metadata.scopes_supported, ['calculator:admin'], 'admin covers write and read')
  const challenge = parseChallenge((await post(server.url, addCall)).headers.get('www-authenticate'))
  t.equal(challenge.params.scope, 'calculator:admin')
})

t.test('a 403 names every scope the request needs, in one challenge', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const batch = [
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'divide', arguments: { a: 1, b: 1 } } },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'power', arguments: { a: 1, b: 1 } } },
    { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 } } }
  ]
  const refused = await post(server.url, batch, bearer(['calculator:add']))
  t.equal(refused.status, 403)
  const challenge = parseChallenge(refused.headers.get('www-authenticate'))
  t.match(challenge.params, { error: 'insufficient_scope', scope: 'calculator:divide calculator:power', resource_metadata: /oauth-protected-resource/ })
})

t.test('offline_access is never asked for: not in challenges, not in scopes_supported', async (t) => {
  const server = await listen(config({ toolPermissions: { ...toolPermissions, whoami: 'offline_access' }, scopeHierarchy: {} }))
  t.teardown(server.close)
  const metadata = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).json() as { scopes_supported: string[] }
  t.notOk(metadata.scopes_supported.includes('offline_access'))
  t.ok(metadata.scopes_supported.length > 0)
  const challenge = parseChallenge((await post(server.url, addCall)).headers.get('www-authenticate'))
  t.notMatch(challenge.params.scope, /offline_access/)
  const refused = await postModern(server.url, 'tools/call', { name: 'whoami', arguments: {} }, bearer(['calculator:read']))
  t.equal(refused.status, 403)
  t.same(parseChallenge(refused.headers.get('www-authenticate')).params.error, 'insufficient_scope')
  t.notMatch(refused.headers.get('www-authenticate'), /offline_access/)
})

t.test('a per-tool limit counts the tool the body calls, whatever the Mcp-Name header says', async (t) => {
  const server = await listen(testConfig({
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: 'limit-key-0123456789abcdefghijklmno', permissions: ['*'] }] } },
    rateLimit: { tools: { power: { max: 1, timeWindow: '1m' } } }
  }))
  t.teardown(server.close)
  const headers = { 'x-api-key': 'limit-key-0123456789abcdefghijklmno' }
  t.equal((await postModern(server.url, 'tools/call', { name: 'power', arguments: { a: 2, b: 2 } }, headers)).status, 200)
  const disguised = await postModern(server.url, 'tools/call', { name: 'power', arguments: { a: 2, b: 2 } }, { ...headers, 'mcp-name': 'add' })
  t.equal(disguised.status, 429, 'naming a cheap tool in the header does not get around the limit')
  t.equal((await postModern(server.url, 'tools/call', { name: 'add', arguments: { a: 2, b: 2 } }, headers)).status, 200, 'other tools are not limited')
})

t.test('the token endpoint follows the hierarchy: a client with a broad scope may ask for a narrower one', async (t) => {
  const base = issuingConfig()
  const server = await listen({ ...base, mcp: { ...base.mcp, scopeHierarchy: { 'calculator:add': ['calculator:add-small'] } } })
  t.teardown(server.close)
  const granted = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials', scope: 'calculator:add-small' }, { authorization: basic(REPORTING) })
  t.equal(granted.status, 200, 'calculator:add implies calculator:add-small')
  t.equal(granted.body.scope, 'calculator:add-small')
  const refused = await oauthPost(server.url, '/oauth/token', { grant_type: 'client_credentials', scope: 'calculator:divide' }, { authorization: basic(REPORTING) })
  t.equal(refused.status, 400, 'a scope the client holds in no way is still invalid_scope')
  t.equal(refused.body.error, 'invalid_scope')
})
