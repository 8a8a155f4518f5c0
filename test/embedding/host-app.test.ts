import t from 'tap'
import Fastify from 'fastify'
import { McpServer } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { apiKeyAuth, bearerAuth, DUAL_ERA_PROTOCOL_VERSIONS, mcpRoutes, type CreateMcpServer } from '../../index.js'
import { addCall, callTool, connect, post, textOf } from '../helpers/client.js'

const KEY = 'host-app-key-0123456789abcdefghijkl'
const TOKEN = 'host-app-token-0123456789abcdefghij'

/** A second, different MCP server: not the calculator. */
const createGreeter: CreateMcpServer = ({ principal }) => {
  const server = new McpServer({ name: 'greeter', version: '1.0.0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  server.registerTool('greet', {
    description: 'Greets someone',
    inputSchema: z.object({ name: z.string() }),
    outputSchema: z.object({ greeting: z.string() })
  }, async ({ name }, ctx) => {
    const greeting = `Hello ${name}, from ${ctx.http?.authInfo?.clientId ?? '?'} (server built for ${principal.id})`
    return { content: [{ type: 'text', text: greeting }], structuredContent: { greeting } }
  })
  return server
}

t.test('a host app with its own routes and two MCP mounts behind different strategies', async (t) => {
  const host = Fastify()
  // The host's own routes: one public, one behind its own unrelated auth.
  host.get('/public', async () => ({ hello: 'world' }))
  await host.register(async (admin) => {
    admin.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-admin'] !== 'yes') return await reply.code(403).send({ admin: false })
    })
    admin.get('/admin/stats', async () => ({ admin: true }))
  })
  // The calculator under /tools, behind API keys.
  await host.register(async (tools) => {
    await tools.register(apiKeyAuth, { keys: [{ id: 'host-key', key: KEY, permissions: ['calculator:*'] }] })
    await tools.register(mcpRoutes, { path: '/mcp' })
  }, { prefix: '/tools' })
  // Another MCP server under /greeter, behind bearer tokens, with its own permission names.
  await host.register(async (greeter) => {
    await greeter.register(bearerAuth, { tokens: [{ id: 'greeter-bot', token: TOKEN, permissions: ['greeter:*'] }] })
    await greeter.register(mcpRoutes, { path: '/mcp', createServer: createGreeter, permissionPrefix: 'greeter' })
  }, { prefix: '/greeter' })
  await host.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => host.close())
  const base = `http://127.0.0.1:${(host.server.address() as { port: number }).port}`

  t.same(await (await fetch(`${base}/public`)).json(), { hello: 'world' }, 'the public route needs no credentials')
  t.equal((await fetch(`${base}/admin/stats`)).status, 403, 'the admin route keeps its own auth...')
  t.same(await (await fetch(`${base}/admin/stats`, { headers: { 'x-admin': 'yes' } })).json(), { admin: true }, '...and only its own: no API key needed')
  t.equal((await fetch(`${base}/public`, { headers: { 'x-api-key': 'garbage' } })).status, 200, 'no auth hook leaked out of the MCP scopes')

  const calculator = new URL(`${base}/tools/mcp`)
  t.equal((await post(calculator, addCall)).status, 401, 'the calculator mount is protected')
  const { client, close } = await connect(calculator, { 'x-api-key': KEY })
  t.teardown(close)
  t.same((await callTool(client, 'add', { a: 5, b: 3 })).structuredContent, { result: 8 })

  const greeter = new URL(`${base}/greeter/mcp`)
  t.equal((await post(greeter, addCall, { 'x-api-key': KEY })).status, 401, 'the API key does not open the other mount')
  t.match((await post(greeter, addCall)).headers.get('www-authenticate'), /^Bearer realm="mcp"$/)
  for (const generation of ['legacy', 'modern'] as const) {
    const second = await connect(greeter, { authorization: `Bearer ${TOKEN}` }, generation)
    t.teardown(second.close)
    t.same((await second.client.listTools()).tools.map((tool) => tool.name), ['greet'], `${generation}: a different MCP server entirely`)
    const greeting = await callTool(second.client, 'greet', { name: 'Ada' })
    t.equal(textOf(greeting), 'Hello Ada, from greeter-bot (server built for greeter-bot)', `${generation}: the greeter answers`)
  }
  t.equal((await post(calculator, addCall, { authorization: `Bearer ${TOKEN}` })).status, 401, 'and the token does not open the calculator')
})
