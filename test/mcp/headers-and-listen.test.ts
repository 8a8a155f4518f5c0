import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server'
import { apiKeyAuth } from '../../plugins/auth/api-key.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { postModern } from '../helpers/client.js'
import { createConformanceServer } from '../conformance/fixture-server.js'

// Two 2026-07-28 features a mounted server gets from the route: `Mcp-Param-*` headers checked
// against the tool's `x-mcp-header` parameters, and `subscriptions/listen` streams.
const KEY = 'headers-listen-key-0123456789abcdefgh'
const withKey = { 'x-api-key': KEY }

async function started (t: Test): Promise<URL> {
  const app = Fastify({ logger: false })
  await app.register(async (scope) => {
    await scope.register(apiKeyAuth, { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] })
    await scope.register(mcpRoutes, { createServer: createConformanceServer })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  const address = app.server.address()
  return new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp`)
}

t.test('Mcp-Param headers must mirror the parameters a tool declares with x-mcp-header', async (t) => {
  const url = await started(t)
  const echo = (region: unknown, headers: Record<string, string>) => postModern(url, 'tools/call', { name: 'test_header_echo', arguments: { region } }, { ...withKey, ...headers })
  const cases: Array<[string, unknown, Record<string, string>, number]> = [
    ['the plain value', 'us-west1', { 'mcp-param-region': 'us-west1' }, 200],
    ['the value Base64-encoded', 'Hello, 世界', { 'mcp-param-region': `=?base64?${Buffer.from('Hello, 世界').toString('base64')}?=` }, 200],
    ['no header', 'us-west1', {}, 400],
    ['another value', 'us-west1', { 'mcp-param-region': 'eu-west1' }, 400],
    ['Base64 without its padding', 'Hello', { 'mcp-param-region': '=?base64?SGVsbG8?=' }, 400],
    ['Base64 with foreign characters', 'Hello', { 'mcp-param-region': '=?base64?SGVs!!!bG8=?=' }, 400],
    ['something that only looks like Base64', 'SGVsbG8=', { 'mcp-param-region': 'SGVsbG8=' }, 200]
  ]
  for (const [what, region, headers, status] of cases) {
    const response = await echo(region, headers)
    t.equal(response.status, status, what)
    const body = await response.json() as { error?: { code: number }, result?: { content: Array<{ text: string }> } }
    if (status === 400) t.equal(body.error?.code, -32020, `${what}: -32020`)
    else t.equal(body.result?.content[0]?.text, `region: ${String(region)}`, `${what}: served`)
  }
})

t.test('subscriptions/listen: acknowledged first, then the list changes it asked for, tagged with its id', async (t) => {
  const url = await started(t)
  const listen = async (notifications: Record<string, unknown>, id: number): Promise<{ events: AsyncIterator<Record<string, unknown>>, close: () => void }> => {
    const response = await postModern(url, 'subscriptions/listen', { notifications }, withKey, id)
    t.equal(response.status, 200)
    t.match(response.headers.get('content-type'), /^text\/event-stream/)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let buffered = ''
    const events: AsyncIterator<Record<string, unknown>> = {
      next: async () => {
        for (;;) {
          const end = buffered.indexOf('\n\n')
          if (end >= 0) {
            const event = buffered.slice(0, end)
            buffered = buffered.slice(end + 2)
            if (event.startsWith(':')) continue
            return { done: false, value: JSON.parse(event.replace(/^event: message\ndata: /, '')) as Record<string, unknown> }
          }
          const chunk = await reader.read()
          if (chunk.done) return { done: true, value: undefined }
          buffered += decoder.decode(chunk.value, { stream: true })
        }
      }
    }
    return { events, close: () => { void reader.cancel() } }
  }
  const tools = await listen({ toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['test://watched-resource'] }, 41)
  const prompts = await listen({ promptsListChanged: true }, 42)
  const ack = await tools.events.next()
  t.match(ack.value, { method: 'notifications/subscriptions/acknowledged', params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: 41 } } })
  t.same((ack.value as { params: { notifications: unknown } }).params.notifications, { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ['test://watched-resource'] },
    'the server honours what its capabilities announce')
  t.match((await prompts.events.next()).value, { method: 'notifications/subscriptions/acknowledged', params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: 42 } } })

  await postModern(url, 'tools/call', { name: 'test_trigger_tool_change', arguments: {} }, withKey)
  await postModern(url, 'tools/call', { name: 'test_trigger_prompt_change', arguments: {} }, withKey)
  t.match((await tools.events.next()).value, { method: 'notifications/tools/list_changed', params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: 41 } } })
  t.match((await tools.events.next()).value, { method: 'notifications/prompts/list_changed', params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: 41 } } })
  t.match((await prompts.events.next()).value, { method: 'notifications/prompts/list_changed', params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: 42 } } },
    'the prompts-only stream got the prompt change and, before it, no tool change')
  tools.close()
  prompts.close()
})

t.test('a listen stream ends gracefully when the server shuts down, so the shutdown does not wait on it', async (t) => {
  const app = Fastify({ logger: false })
  await app.register(async (scope) => {
    await scope.register(apiKeyAuth, { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] })
    await scope.register(mcpRoutes, { createServer: createConformanceServer })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const url = new URL(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/mcp`)
  const response = await postModern(url, 'subscriptions/listen', { notifications: { toolsListChanged: true } }, withKey, 'sub-1')
  const body = response.text()
  await app.close()
  const events = (await body).split('\n\n').filter((event) => event !== '' && !event.startsWith(':')).map((event) => JSON.parse(event.replace(/^event: message\ndata: /, '')) as Record<string, unknown>)
  t.match(events, [
    { method: 'notifications/subscriptions/acknowledged' },
    { id: 'sub-1', result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: 'sub-1' } } }
  ], 'acknowledged, then the completion result that says the end was graceful')
})
