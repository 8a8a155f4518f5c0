import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { CreateMessageRequestSchema, type CallToolResult as LegacyCallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { createConformanceServer } from '../conformance/fixture-server.js'

// Every message a mounted server sends reaches its client, in order: progress notifications on
// the response of the POST that asked for them (2025 stateless and stateful, and 2026-07-28),
// and server→client requests answered even by a stateless 2025 server.
const KEY = 'delivery-key-0123456789abcdefghijklm'
const CALLS = 1000
const CONCURRENCY = 25

async function fixtureApp (sessions: 'stateless' | 'stateful'): Promise<{ app: FastifyInstance, url: URL }> {
  const app = Fastify({ logger: false })
  await app.register(async (scope) => {
    await scope.register(apiKeyAuth, { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] })
    await scope.register(mcpRoutes, { createServer: createConformanceServer, sessions })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  return { app, url: new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp`) }
}

type ProgressCall = (token: string, onprogress: (progress: { progress: number }) => void) => Promise<string>

/** Runs `CALLS` progress calls, `CONCURRENCY` at a time; returns what each call saw. */
async function progressRun (callTool: ProgressCall): Promise<{ complete: number, lost: number, late: number, unordered: number }> {
  let next = 0
  const seen = { complete: 0, lost: 0, late: 0, unordered: 0 }
  const worker = async (): Promise<void> => {
    while (next < CALLS) {
      const token = `p-${next++}`
      const progress: number[] = []
      let done = false
      const text = await callTool(token, (update) => {
        if (done) seen.late++
        progress.push(update.progress)
      })
      done = true
      // The SDK clients put their own progress token in the request; the tool answers with it.
      if (text !== '' && text !== 'no progress token') seen.complete++
      if (progress.length !== 3) seen.lost++
      else if (progress.join(',') !== '0,50,100') seen.unordered++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return seen
}

for (const sessions of ['stateless', 'stateful'] as const) {
  t.test(`${sessions}: ${CALLS} progress calls lose no notification and reorder none, in either era`, async (t) => {
    const { app, url } = await fixtureApp(sessions)
    t.teardown(() => app.close())

    const legacy = new LegacyClient({ name: 'delivery', version: '0' })
    await legacy.connect(new LegacyHttpTransport(url, { requestInit: { headers: { 'x-api-key': KEY } } }))
    t.teardown(() => legacy.close())
    const legacySeen = await progressRun(async (token, onprogress) => {
      const result = await legacy.callTool({ name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } }, undefined, { onprogress }) as LegacyCallToolResult
      const first = result.content[0]
      return first?.type === 'text' ? first.text : ''
    })
    t.same(legacySeen, { complete: CALLS, lost: 0, late: 0, unordered: 0 }, '2025 client: every call saw 0, 50, 100 before its result')

    const modern = new Client({ name: 'delivery', version: '0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
    await modern.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { 'x-api-key': KEY } } }))
    t.teardown(() => modern.close())
    const modernSeen = await progressRun(async (token, onprogress) => {
      const result: CallToolResult = await modern.callTool({ name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } }, { onprogress })
      const first = result.content[0]
      return first?.type === 'text' ? first.text : ''
    })
    t.same(modernSeen, { complete: CALLS, lost: 0, late: 0, unordered: 0 }, '2026-07-28 client: every call saw 0, 50, 100 before its result')
  })

  t.test(`${sessions}: a server→client request travels on the call's stream and its answer comes back`, async (t) => {
    const { app, url } = await fixtureApp(sessions)
    t.teardown(() => app.close())
    const client = new LegacyClient({ name: 'delivery', version: '0' }, { capabilities: { sampling: {} } })
    const asked: string[] = []
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const content = request.params.messages[0]?.content
      asked.push(content !== undefined && 'text' in content ? String(content.text) : '')
      return { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }
    })
    await client.connect(new LegacyHttpTransport(url, { requestInit: { headers: { 'x-api-key': KEY } } }))
    t.teardown(() => client.close())
    const results = await Promise.all(['first', 'second', 'third'].map(async (prompt) =>
      await client.callTool({ name: 'test_sampling', arguments: { prompt } }) as LegacyCallToolResult))
    t.same(results.map((result) => result.content[0]?.type === 'text' ? result.content[0].text : ''), ['LLM response: Paris', 'LLM response: Paris', 'LLM response: Paris'])
    t.same(asked.sort(), ['first', 'second', 'third'], 'each call asked its own question')
  })
}

t.test('a stateless POST whose server sends nothing early is answered with plain JSON', async (t) => {
  const { app, url } = await fixtureApp('stateless')
  t.teardown(() => app.close())
  const init = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-api-key': KEY },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } })
  })
  t.match(init.headers.get('content-type'), /^application\/json/)
  t.match(await init.json(), { id: 1, result: { content: [{ text: 'This is a simple text response for testing.' }] } })
  const streamed = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-api-key': KEY },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'tok' } } })
  })
  t.match(streamed.headers.get('content-type'), /^text\/event-stream/, 'progress turns the answer into a stream')
  const events = (await streamed.text()).split('\n\n').filter((event) => event !== '').map((event) => JSON.parse(event.replace(/^event: message\ndata: /, '')) as { method?: string, id?: number, params?: { progress?: number } })
  t.same(events.map((event) => event.method ?? `result ${event.id}`), ['notifications/progress', 'notifications/progress', 'notifications/progress', 'result 2'])
  t.same(events.slice(0, 3).map((event) => event.params?.progress), [0, 50, 100])
})
