import t from 'tap'
import { McpServer } from '@modelcontextprotocol/server'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import { sha256 } from '../../plugins/credentials/compare.js'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'
import { countingCalculator } from '../helpers/counting-server.js'
import { listen, testConfig } from '../helpers/server.js'

const CI = 'ci-bot-token-0123456789abcdefghijklmn'
const REPORTING = 'reporting-token-9876543210zyxwvutsrq'
const config = () => testConfig({
  auth: {
    strategy: 'bearer',
    bearer: {
      realm: 'calculator',
      tokens: [
        { id: 'ci-bot', token: CI, permissions: ['calculator:*'] },
        { id: 'reporting', sha256: sha256(REPORTING).toString('hex'), permissions: ['calculator:add', 'calculator:who'] }
      ]
    }
  }
})

t.test('both live tokens work; the principal is the token id', async (t) => {
  const createServer = () => {
    const server = new McpServer({ name: 'echo', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
    server.registerTool('who', { description: 'principal id' }, async (ctx) => ({ content: [{ type: 'text', text: ctx.http?.authInfo?.clientId ?? '' }] }))
    return server
  }
  const server = await listen(config(), { mcp: { createServer } })
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    for (const [id, token] of [['ci-bot', CI], ['reporting', REPORTING]]) {
      const { client, close } = await connect(server.url, { authorization: `Bearer ${token}` }, generation)
      t.equal(textOf(await callTool(client, 'who', {})), id, `${generation} client`)
      await close()
    }
  }
})

t.test('the scheme name is case-insensitive', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    t.equal((await post(server.url, addCall, { authorization: `${scheme} ${CI}` })).status, 200, scheme)
  }
})

t.test('RFC 6750 challenges: no error code without credentials, invalid_token for a wrong one; nothing runs', async (t) => {
  const { createServer, counts } = countingCalculator()
  const server = await listen(config(), { mcp: { createServer } })
  t.teardown(server.close)

  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['no Authorization', {}, 'Bearer realm="calculator"', 'missing credentials'],
    ['Basic credentials', { authorization: 'Basic ' + Buffer.from(`ci-bot:${CI}`).toString('base64') }, 'Bearer realm="calculator"', 'missing credentials'],
    ['a bare token', { authorization: CI }, 'Bearer realm="calculator"', 'missing credentials'],
    ['the token in x-api-key', { 'x-api-key': CI }, 'Bearer realm="calculator"', 'missing credentials'],
    ['a wrong token', { authorization: 'Bearer wrong-token-0123456789abcdefghijklm' }, 'Bearer realm="calculator", error="invalid_token"', 'invalid credentials'],
    ['two tokens', { authorization: `Bearer ${CI} ${REPORTING}` }, 'Bearer realm="calculator", error="invalid_token"', 'invalid credentials'],
    ['trailing garbage', { authorization: `Bearer ${CI}x` }, 'Bearer realm="calculator", error="invalid_token"', 'invalid credentials'],
    ['a token one character short', { authorization: `Bearer ${CI.slice(0, -1)}` }, 'Bearer realm="calculator", error="invalid_token"', 'invalid credentials'],
    ['an empty token', { authorization: 'Bearer ' }, 'Bearer realm="calculator"', 'missing credentials'],
    ['Bearer with no space', { authorization: 'Bearer' }, 'Bearer realm="calculator"', 'missing credentials']
  ]
  for (const [name, headers, challenge, message] of cases) {
    const response = await post(server.url, addCall, headers)
    t.equal(response.status, 401, name)
    t.equal(response.headers.get('www-authenticate'), challenge, `${name}: challenge`)
    t.match(await response.json(), { statusCode: 401, message }, `${name}: body`)
  }
  const inQuery = await post(`${server.url.href}?access_token=${CI}&token=${CI}`, addCall)
  t.equal(inQuery.status, 401, 'a token in the query string is ignored')
  t.equal(counts.toolRuns, 0, 'no tool ran')
  t.equal(counts.servers, 0, 'no MCP server was built')
})

t.test('a refused strategy does not leave its status on a request another strategy accepts', async (t) => {
  const server = await listen(testConfig({
    auth: {
      strategy: ['bearer', 'api-key'],
      bearer: { tokens: [{ id: 'b', token: CI, permissions: ['*'] }] },
      apiKey: { keys: [{ id: 'k', key: REPORTING, permissions: ['*'] }] }
    }
  }))
  t.teardown(server.close)
  const response = await post(server.url, addCall, { authorization: 'Bearer not-the-token-0123456789abcdefg', 'x-api-key': REPORTING })
  t.equal(response.status, 200)
  t.match(await response.json(), { result: { structuredContent: { result: 8 } } })
})

t.test('options are checked at register time', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { bearerAuth } = await import('../../plugins/auth/bearer.js')
  for (const [options, message] of [
    [{ tokens: [] }, /bearer: invalid option tokens: at least one token is required/],
    [{ tokens: [{ id: 'a', token: 'short', permissions: [] }] }, /tokens\[0\]\.token: Too small/],
    [{ tokens: [{ id: 'a', permissions: [] }] }, /tokens\[0\]: give exactly one of token, tokenFile or sha256/],
    [{ tokens: [{ id: 'a', token: CI, permissions: [] }, { id: 'a', token: REPORTING, permissions: [] }] }, /token ids must be unique/]
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(bearerAuth, options as never).ready() }, { code: 'MCP_AUTH_INVALID_OPTION', message })
    await app.close()
  }
})
