import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { createConformanceServer } from '../conformance/fixture-server.js'
import { callTool, connect, post } from '../helpers/client.js'
import { jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// serverScope: deployment: one MCP server per era serves every principal, each caller passed per
// request. What must still hold: every call acts for its own caller, and a server's request to
// one client can only be answered by that client's principal.

const KEYS = { alice: 'scope-key-alice-0123456789abcdefghij', mallory: 'scope-key-mallory-0123456789abcdefgh' }

async function sharedFixture (): Promise<{ app: FastifyInstance, url: URL }> {
  const app = Fastify({ logger: false })
  await app.register(async (scope) => {
    await scope.register(apiKeyAuth, { keys: Object.entries(KEYS).map(([id, key]) => ({ id, key, permissions: ['*'] })) })
    await scope.register(mcpRoutes, { createServer: createConformanceServer, serverScope: 'deployment' })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  return { app, url: new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp`) }
}

/** Reads an SSE response until an event whose data has `method`; returns that message and the rest of the stream. */
async function nextRequest (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ id: number, method: string }> {
  let buffered = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error('the stream ended before the server asked anything')
    buffered += Buffer.from(value).toString('utf8')
    for (const line of buffered.split('\n')) {
      if (!line.startsWith('data: ')) continue
      const message = JSON.parse(line.slice(6)) as { id?: number, method?: string }
      if (message.method !== undefined && message.id !== undefined) return { id: message.id, method: message.method }
    }
  }
}

async function resultOf (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let buffered = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (value !== undefined) buffered += Buffer.from(value).toString('utf8')
    const found = buffered.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as { id?: number, result?: { content?: Array<{ text?: string }> } }).find((message) => message.id === 7)
    if (found !== undefined) return found.result?.content?.[0]?.text ?? ''
    if (done) throw new Error('no result')
  }
}

t.test('a shared server takes the answer to its request only from the principal it asked', async (t) => {
  const { app, url } = await sharedFixture()
  t.teardown(() => app.close())
  const initialize = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'alice', version: '0' } } }
  t.equal((await post(url, initialize, { 'x-api-key': KEYS.alice })).status, 200)
  const call = await post(url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_sampling', arguments: { prompt: 'capital of France?' } } }, { 'x-api-key': KEYS.alice, 'mcp-protocol-version': '2025-11-25' })
  const reader = (call.body as ReadableStream<Uint8Array>).getReader()
  const asked = await nextRequest(reader)
  t.equal(asked.method, 'sampling/createMessage', 'the server asked alice, on her call\'s stream')

  const answer = (text: string) => ({ jsonrpc: '2.0', id: asked.id, result: { role: 'assistant', content: { type: 'text', text }, model: 'm', stopReason: 'endTurn' } })
  const forged = await post(url, answer('Mallory was here'), { 'x-api-key': KEYS.mallory, 'mcp-protocol-version': '2025-11-25' })
  t.equal(forged.status, 202, 'mallory\'s message is accepted as a message...')
  t.equal((await post(url, answer('Paris'), { 'x-api-key': KEYS.alice, 'mcp-protocol-version': '2025-11-25' })).status, 202)
  t.equal(await resultOf(reader), 'LLM response: Paris', '...but only alice\'s answer reaches the server')
})

t.test('the calculator shares its server by default: 40 principals at once, each call acting for its own caller', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  const clients = await Promise.all(Array.from({ length: 40 }, async (_, index) => {
    const permissions = index % 2 === 0 ? ['calculator:whoami', 'calculator:add'] : ['calculator:whoami']
    const token = jwtFor(`user-${index}`, permissions)
    return { index, permissions, ...(await connect(server.url, { authorization: `Bearer ${token}` }, index % 3 === 0 ? 'legacy' : 'modern')) }
  }).map(async (pending) => await pending))
  t.teardown(async () => { await Promise.all(clients.map(async ({ close }) => await close())) })
  const seen = await Promise.all(clients.map(async ({ client }) => (await callTool(client, 'whoami', {})).structuredContent as { id: string }))
  t.same(seen.map((who) => who.id), clients.map(({ index }) => `user-${index}`), 'every whoami names its own caller')
  const listed = await Promise.all(clients.map(async ({ client }) => (await client.listTools()).tools.map((tool) => tool.name).sort()))
  t.same(listed, clients.map(({ permissions }) => permissions.map((p) => p.slice('calculator:'.length)).sort()), 'every tools/list is filtered for its caller')
})
