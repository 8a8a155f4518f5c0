import t from 'tap'
import Fastify from 'fastify'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { addCall, callTool, connect, post } from '../helpers/client.js'
import { basicHeader, FAST_SCRYPT, jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'
import { parseChallenge } from '../helpers/www-authenticate.js'

const KEY = 'permission-test-key-0123456789abcdefgh'
const TOKEN = 'permission-test-token-0123456789abcdef'
const PASSWORD = 'permission test password'

/** Each strategy with one principal that holds exactly `permissions`. */
const strategies = [
  {
    name: 'api-key',
    bearerFamily: false,
    auth: async (permissions: string[]) => ({ strategy: 'api-key', apiKey: { keys: [{ id: 'limited', key: KEY, permissions }] } }),
    headers: (): Record<string, string> => ({ 'x-api-key': KEY })
  },
  {
    name: 'bearer',
    bearerFamily: true,
    auth: async (permissions: string[]) => ({ strategy: 'bearer', bearer: { tokens: [{ id: 'limited', token: TOKEN, permissions }] } }),
    headers: (): Record<string, string> => ({ authorization: `Bearer ${TOKEN}` })
  },
  {
    name: 'basic',
    bearerFamily: false,
    auth: async (permissions: string[]) => ({ strategy: 'basic', basic: { users: [{ username: 'limited', passwordHash: await hashPassword(PASSWORD, FAST_SCRYPT), permissions }] } }),
    headers: (): Record<string, string> => ({ authorization: basicHeader('limited', PASSWORD) })
  },
  {
    name: 'jwt',
    bearerFamily: true,
    auth: async () => ({ strategy: 'jwt', jwt: jwtSection }),
    headers: (permissions: string[] = []): Record<string, string> => ({ authorization: `Bearer ${jwtFor('limited', permissions)}` })
  }
]

for (const strategy of strategies) {
  t.test(`${strategy.name}: a principal with calculator:add sees and calls add only`, async (t) => {
    const permissions = ['calculator:add']
    const server = await listen(testConfig({ auth: await strategy.auth(permissions) }))
    t.teardown(server.close)
    const headers = strategy.name === 'jwt' ? strategy.headers(permissions) : strategy.headers()
    const { client, close } = await connect(server.url, headers)
    t.teardown(close)

    t.same((await client.listTools()).tools.map((tool) => tool.name), ['add'], 'tools/list holds only add')
    t.same((await callTool(client, 'add', { a: 2, b: 2 })).structuredContent, { result: 4 })

    const refused = await post(server.url, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'divide', arguments: { a: 1, b: 1 } } }, headers)
    if (strategy.bearerFamily) {
      t.equal(refused.status, 403, 'HTTP 403 for bearer-family strategies')
      const challenge = parseChallenge(refused.headers.get('www-authenticate'))
      t.equal(challenge.scheme, 'Bearer')
      t.equal(challenge.params.error, 'insufficient_scope')
      t.equal(challenge.params.scope, 'calculator:divide')
      if (strategy.name === 'jwt') t.match(challenge.params.resource_metadata, /\/\.well-known\/oauth-protected-resource\/mcp$/)
    } else {
      t.equal(refused.status, 200, 'a JSON-RPC error in a 200 for the others')
      t.equal(refused.headers.get('www-authenticate'), null)
    }
    t.same(await refused.json(), { jsonrpc: '2.0', id: 9, error: { code: -32003, message: 'Permission denied: calculator:divide', data: { permission: 'calculator:divide' } } })

    // Through the SDK client, the denial surfaces as an error mentioning the permission.
    const error = await callTool(client, 'divide', { a: 1, b: 1 }).then(() => undefined, (e: unknown) => e)
    t.match(String(error), /Permission denied: calculator:divide/)
    if (!strategy.bearerFamily) t.equal((error as McpError).code, -32003)
    t.match(server.logs.records().find((r) => r.reason === 'insufficient_permission'), { event: 'auth', outcome: 'failure', strategy: strategy.name })

    // The same principal through a 2026-07-28 client: the same list, the same refusal.
    const modern = await connect(server.url, headers, 'modern')
    t.teardown(modern.close)
    t.same((await modern.client.listTools()).tools.map((tool) => tool.name), ['add'], 'modern: tools/list holds only add')
    t.same((await callTool(modern.client, 'add', { a: 2, b: 2 })).structuredContent, { result: 4 }, 'modern: add runs')
    const modernError = await callTool(modern.client, 'divide', { a: 1, b: 1 }).then(() => undefined, (e: unknown) => e)
    if (strategy.bearerFamily) t.match(modernError, { requiredScope: 'calculator:divide' }, 'modern: the 403 surfaces as the scope to step up to')
    else t.match(modernError, { code: -32003, message: /Permission denied: calculator:divide/ }, 'modern: the JSON-RPC permission error')
  })

  t.test(`${strategy.name}: whoami, granted by *`, async (t) => {
    const server = await listen(testConfig({ auth: await strategy.auth(['*']) }))
    t.teardown(server.close)
    const { client, close } = await connect(server.url, strategy.name === 'jwt' ? strategy.headers(['*']) : strategy.headers())
    t.teardown(close)
    t.equal((await client.listTools()).tools.length, 8)
    const result = await callTool(client, 'whoami', {})
    t.same(result.structuredContent, { id: 'limited', strategy: strategy.name, permissions: ['*'] })
    for (const secret of [KEY, TOKEN, PASSWORD]) t.notOk(JSON.stringify(result).includes(secret), 'no credential in the result')
  })
}

t.test('wildcards and remapped permissions', async (t) => {
  const keys = [
    { id: 'all', key: 'all-key-0123456789abcdefghijklmn', permissions: ['calculator:*'] },
    { id: 'advanced', key: 'advanced-key-0123456789abcdefghi', permissions: ['calculator:advanced', 'calculator:whoami'] },
    { id: 'plain-power', key: 'plain-power-key-0123456789abcdef', permissions: ['calculator:power'] },
    { id: 'nothing', key: 'nothing-key-0123456789abcdefghij', permissions: [] }
  ]
  const server = await listen(testConfig({
    auth: { strategy: 'api-key', apiKey: { keys } },
    mcp: { toolPermissions: { power: 'calculator:advanced', sqrt: 'calculator:advanced' } }
  }))
  t.teardown(server.close)
  const visible = async (key: string) => {
    const response = await post(server.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'x-api-key': key })
    return ((await response.json()) as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name).sort()
  }
  t.equal((await visible(keys[0]!.key)).length, 8, 'calculator:* grants every tool, whoami included')
  t.same(await visible(keys[1]!.key), ['power', 'sqrt', 'whoami'], 'the remapped permission grants power and sqrt')
  t.same(await visible(keys[2]!.key), [], 'calculator:power no longer grants power')
  t.same(await visible(keys[3]!.key), [], 'no permissions, no tools')
  t.same(await (await post(server.url, addCall, { 'x-api-key': keys[3]!.key })).json(),
    { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'Permission denied: calculator:add', data: { permission: 'calculator:add' } } })
})

t.test('a batch: denied calls answered in place, the rest runs', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions: ['calculator:add'] }] } } }))
  t.teardown(server.close)
  const response = await post(server.url, [
    { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } },
    { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'multiply', arguments: { a: 2, b: 2 } } },
    { jsonrpc: '2.0', id: 'c', method: 'tools/list' }
  ], { 'x-api-key': KEY })
  t.match(await response.json(), [
    { id: 'a', result: { structuredContent: { result: 3 } } },
    { id: 'b', error: { code: -32003, message: 'Permission denied: calculator:multiply' } },
    { id: 'c', result: { tools: [{ name: 'add' }] } }
  ])
})

t.test('a custom access check: async, and failing closed', async (t) => {
  const checks: string[] = []
  const app = Fastify()
  await app.register(async (scope) => {
    await scope.register(apiKeyAuth, { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] })
    await scope.register(mcpRoutes, {
      accessCheck: async (_principal, tool) => {
        checks.push(tool)
        if (tool === 'divide') throw new Error('policy service down')
        if (tool === 'power') return 'yes' as unknown as boolean
        return tool !== 'modulo'
      }
    })
  })
  t.teardown(() => app.close())
  const list = await app.inject({ method: 'POST', url: '/mcp', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, payload: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })
  t.same((list.json() as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name).sort(),
    ['add', 'multiply', 'sqrt', 'subtract', 'whoami'], 'a throwing check, a non-true answer and a false one all hide the tool')
  for (const [tool, allowed] of [['add', true], ['divide', false], ['power', false], ['modulo', false]] as const) {
    const call = await app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { a: 4, b: 2 } } }
    })
    t.equal('result' in call.json(), allowed, `${tool}: ${allowed ? 'runs' : 'denied'}`)
  }
  t.ok(checks.includes('divide'), 'the check ran for the call, too')
})
