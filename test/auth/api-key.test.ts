import t from 'tap'
import { request as httpRequest } from 'node:http'
import { McpServer } from '@modelcontextprotocol/server'
import { sha256 } from '../../plugins/credentials/compare.js'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'
import { countingCalculator } from '../helpers/counting-server.js'
import { listen, testConfig } from '../helpers/server.js'

const PRIMARY = 'primary-key-0123456789abcdefghijklmnop'
const PREVIOUS = 'previous-key-9876543210zyxwvutsrqponm'

function apiKeyConfig (sessions: 'stateless' | 'stateful', previousPermissions = ['calculator:*']) {
  return testConfig({
    auth: {
      strategy: 'api-key',
      apiKey: {
        keys: [
          { id: 'primary', key: '${CALCULATOR_API_KEY}', permissions: ['calculator:*'] },
          { id: 'previous', sha256: sha256(PREVIOUS).toString('hex'), permissions: previousPermissions }
        ]
      }
    },
    mcp: { sessions }
  }, { CALCULATOR_API_KEY: PRIMARY })
}

/** The calculator plus a tool that reports what reached it as `ctx.http.authInfo`. */
function calculatorWithAuthEcho () {
  const server = new McpServer({ name: 'echo', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  registerCalculatorTools(server)
  server.registerTool('auth-echo', { description: 'reports ctx.http.authInfo' }, async (ctx) => ({
    content: [{ type: 'text', text: JSON.stringify(ctx.http?.authInfo) }]
  }))
  return server
}

for (const sessions of ['stateless', 'stateful'] as const) {
  t.test(`${sessions}: the SDK client uses the calculator with either rotation key`, async (t) => {
    const server = await listen(apiKeyConfig(sessions))
    t.teardown(server.close)

    for (const [id, key] of [['primary', PRIMARY], ['previous', PREVIOUS]] as const) {
      const { client, sessionId, close } = await connect(server.url, { 'x-api-key': key })
      t.teardown(close)
      if (sessions === 'stateful') t.match(sessionId(), /^[0-9a-f-]{36}$/, `${id}: a session id was issued`)
      else t.equal(sessionId(), undefined, `${id}: no session in stateless mode`)

      const { tools } = await client.listTools()
      t.same(tools.map((tool) => tool.name).sort(), ['add', 'divide', 'modulo', 'multiply', 'power', 'sqrt', 'subtract', 'whoami'], `${id}: 8 tools`)

      const results = {
        add: await callTool(client, 'add', { a: 5, b: 3 }),
        subtract: await callTool(client, 'subtract', { a: 5, b: 3 }),
        multiply: await callTool(client, 'multiply', { a: 6, b: 7 }),
        divide: await callTool(client, 'divide', { a: 1, b: 4 }),
        modulo: await callTool(client, 'modulo', { a: 10, b: 4 }),
        power: await callTool(client, 'power', { a: 3, b: 4 }),
        sqrt: await callTool(client, 'sqrt', { x: 2 })
      }
      t.same(Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.structuredContent])), {
        add: { result: 8 },
        subtract: { result: 2 },
        multiply: { result: 42 },
        divide: { result: 0.25 },
        modulo: { result: 2 },
        power: { result: 81 },
        sqrt: { result: Math.SQRT2 }
      }, `${id}: every tool computes`)
      t.equal(textOf(results.add), '8')

      for (const [name, args, message] of [
        ['divide', { a: 1, b: 0 }, /Division by zero/],
        ['modulo', { a: 1, b: 0 }, /Modulo by zero/],
        ['sqrt', { x: -4 }, /negative/],
        ['power', { a: 10, b: 1000 }, /not a finite number/]
      ] as const) {
        const result = await callTool(client, name, args)
        t.equal(result.isError, true, `${id}: ${name} error is a tool result`)
        t.match(textOf(result), message)
      }
      const invalid = await callTool(client, 'add', { a: 'five', b: 3 })
      t.equal(invalid.isError, true)
      // The SDK's invalid-params error; v2 no longer prefixes it with "MCP error -32602:".
      t.match(textOf(invalid), /^Input validation error: Invalid arguments for tool add/)
    }
  })
}

t.test('the principal reaches tools as ctx.http.authInfo, id = key id, no credential', async (t) => {
  const server = await listen(apiKeyConfig('stateless', ['calculator:add', 'calculator:auth-echo']), { mcp: { createServer: calculatorWithAuthEcho } })
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, { 'x-api-key': PREVIOUS }, generation)
    t.teardown(close)
    const echoed = JSON.parse(textOf(await callTool(client, 'auth-echo', {}))) as Record<string, unknown>
    t.same(echoed, {
      token: '',
      clientId: 'previous',
      scopes: ['calculator:add', 'calculator:auth-echo'],
      extra: { principal: { id: 'previous', strategy: 'api-key', permissions: ['calculator:add', 'calculator:auth-echo'] } }
    }, `${generation} client`)
  }
})

t.test('refused with 401, a challenge and the common JSON body; no tool runs', async (t) => {
  const { createServer, counts } = countingCalculator()
  const server = await listen(apiKeyConfig('stateless'), { mcp: { createServer } })
  t.teardown(server.close)

  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['no header', {}, '', 'MCP_AUTH_MISSING_CREDENTIALS'],
    ['empty header', { 'x-api-key': '' }, '', 'MCP_AUTH_MISSING_CREDENTIALS'],
    ['wrong key', { 'x-api-key': 'wrong-key-0123456789abcdefghijklmnop' }, '', 'MCP_AUTH_INVALID_CREDENTIALS'],
    ['key one character longer', { 'x-api-key': PRIMARY + 'x' }, '', 'MCP_AUTH_INVALID_CREDENTIALS'],
    ['key one character shorter', { 'x-api-key': PRIMARY.slice(0, -1) }, '', 'MCP_AUTH_INVALID_CREDENTIALS'],
    ['key in the query string', {}, `?x-api-key=${PRIMARY}&api_key=${PRIMARY}&key=${PRIMARY}`, 'MCP_AUTH_MISSING_CREDENTIALS'],
    ['key as a bearer token', { authorization: `Bearer ${PRIMARY}` }, '', 'MCP_AUTH_MISSING_CREDENTIALS'],
    ['key as the whole Authorization header', { authorization: PRIMARY }, '', 'MCP_AUTH_MISSING_CREDENTIALS']
  ]
  for (const [name, headers, query, code] of cases) {
    const response = await post(server.url.href + query, addCall, headers)
    t.equal(response.status, 401, name)
    t.equal(response.headers.get('www-authenticate'), 'ApiKey realm="mcp", header="x-api-key"', `${name}: challenge`)
    t.same(await response.json(), {
      statusCode: 401,
      code,
      error: 'Unauthorized',
      message: code === 'MCP_AUTH_MISSING_CREDENTIALS' ? 'missing credentials' : 'invalid credentials'
    }, `${name}: body`)
  }
  t.equal(counts.toolRuns, 0, 'no tool ran')
  t.equal(counts.servers, 0, 'no MCP server was even built')

  const accepted = await post(server.url, addCall, { 'x-api-key': PRIMARY })
  t.equal(accepted.status, 200, 'the same request with the key is served')
  t.equal(counts.toolRuns, 1)
})

t.test('a repeated key header is refused as ambiguous', async (t) => {
  const server = await listen(apiKeyConfig('stateless'))
  t.teardown(server.close)
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const req = httpRequest(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': [PRIMARY, PRIMARY] } }, (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', reject)
    req.end(JSON.stringify(addCall))
  })
  t.equal(status, 400)
})

t.test('authentication runs before the body is parsed', async (t) => {
  const server = await listen(apiKeyConfig('stateless'))
  t.teardown(server.close)
  const withoutKey = await post(server.url, '{"jsonrpc": "2.0", "id": 1, "method": ')
  t.equal(withoutKey.status, 401, 'malformed JSON without a key: 401, not 400')
  const withKey = await post(server.url, '{"jsonrpc": "2.0", "id": 1, "method": ', { 'x-api-key': PRIMARY })
  t.equal(withKey.status, 400, 'with the key the parse error is reported')
  t.same(await withKey.json(), { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error: invalid JSON' }, id: null })
})

t.test('no log line contains a key, even one sent in the query string', async (t) => {
  const server = await listen(apiKeyConfig('stateful'))
  const { client, close } = await connect(server.url, { 'x-api-key': PRIMARY })
  await callTool(client, 'add', { a: 1, b: 2 })
  await close()
  await post(server.url.href + `?x-api-key=${PRIMARY}`, addCall)
  await post(server.url, addCall, { 'x-api-key': PREVIOUS + 'x' })
  await post(server.url, addCall, { 'x-api-key': PREVIOUS })
  await server.close()

  t.ok(server.logs.lines.length > 10, `logs were captured (${server.logs.lines.length} lines)`)
  t.match(server.logs.text, /authentication failed/, 'failures are logged')
  for (const secret of [PRIMARY, PREVIOUS, PREVIOUS.slice(0, 12), PRIMARY.slice(0, 12)]) {
    t.notOk(server.logs.text.includes(secret), `no log line contains ${secret.slice(0, 8)}…`)
  }
})

t.test('the plugin checks its options at register time and names the bad one', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { apiKeyAuth } = await import('../../plugins/auth/api-key.js')
  const bad: Array<[unknown, RegExp]> = [
    [{ keys: [] }, /api-key: invalid option keys: at least one key is required/],
    [{}, /api-key: invalid option keys: /],
    [{ keys: [{ id: 'a', key: 'too-short', permissions: [] }] }, /keys\[0\]\.key: Too small/],
    [{ keys: [{ id: 'a', permissions: [] }] }, /keys\[0\]: give exactly one of key, keyFile or sha256/],
    [{ keys: [{ id: 'a', key: PRIMARY, sha256: sha256(PRIMARY).toString('hex'), permissions: [] }] }, /keys\[0\]: give exactly one/],
    [{ keys: [{ id: 'a', key: PRIMARY, permissions: [] }, { id: 'a', key: PREVIOUS, permissions: [] }] }, /keys: key ids must be unique/],
    [{ header: 'x api key', keys: [{ id: 'a', key: PRIMARY, permissions: [] }] }, /header: expected an HTTP header name/],
    [{ keys: [{ id: 'a', key: PRIMARY }] }, /keys\[0\]\.permissions: /]
  ]
  for (const [options, message] of bad) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(apiKeyAuth, options as never).ready() }, { code: 'MCP_AUTH_INVALID_OPTION', message }, JSON.stringify(options))
    await app.close()
  }
  const options = { keys: [{ id: 'a', key: PRIMARY, permissions: ['calculator:add'] }] }
  const snapshot = JSON.stringify(options)
  const app = Fastify()
  await app.register(apiKeyAuth, options).ready()
  await app.close()
  t.equal(JSON.stringify(options), snapshot, 'options are not mutated')
})

t.test('the MCP routes refuse to register without an auth strategy in their scope', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { mcpRoutes } = await import('../../routes/mcp.js')
  const app = Fastify()
  await t.rejects(async () => { await app.register(mcpRoutes).ready() }, { code: 'MCP_AUTH_INVALID_OPTION', message: /no auth strategy is registered in this scope/ })
  await app.close()
})
