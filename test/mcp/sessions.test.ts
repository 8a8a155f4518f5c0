import t from 'tap'
import { McpServer } from '@modelcontextprotocol/server'
import type { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js'
import type { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { z } from 'zod'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import type { MountedServer } from '../../mcp/server.js'
import { SessionStore } from '../../mcp/sessions.js'
import { addCall, callTool, connect, post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

const ALICE = 'alice-key-0123456789abcdefghijklmnop'
const BOB = 'bob-key-0123456789abcdefghijklmnopqr'
const config = (mcp: Record<string, unknown> = {}) => testConfig({
  auth: {
    strategy: 'api-key',
    apiKey: { keys: [{ id: 'alice', key: ALICE, permissions: ['*'] }, { id: 'bob', key: BOB, permissions: ['*'] }] }
  },
  mcp: { sessions: 'stateful', ...mcp }
})
const initialize = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }
}

async function openSession (url: URL, key: string): Promise<string> {
  const response = await post(url, initialize, { 'x-api-key': key })
  const id = response.headers.get('mcp-session-id')
  if (response.status !== 200 || id === null) throw new Error(`initialize failed: ${response.status}`)
  return id
}

t.test('requests need a live session id; unknown ids are 404', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  const missing = await post(server.url, addCall, { 'x-api-key': ALICE })
  t.equal(missing.status, 400)
  t.match(await missing.json(), { error: { message: /Mcp-Session-Id header is required/ } })

  const unknown = await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': '00000000-0000-4000-8000-000000000000' })
  t.equal(unknown.status, 404)
  t.same(await unknown.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null })

  const id = await openSession(server.url, ALICE)
  const served = await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })
  t.equal(served.status, 200)
  t.equal(served.headers.get('mcp-session-id'), id)
  t.match(await served.json(), { id: 1, result: { structuredContent: { result: 8 } } })

  const again = await post(server.url, initialize, { 'x-api-key': ALICE, 'mcp-session-id': id })
  t.equal(again.status, 400, 'initialize inside a session is refused')
})

t.test('a session is bound to the principal that created it', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  const id = await openSession(server.url, ALICE)
  const asBob = { 'x-api-key': BOB, 'mcp-session-id': id }

  const post404 = await post(server.url, addCall, asBob)
  t.equal(post404.status, 404, 'POST by another principal')
  t.same(await post404.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null })
  t.equal((await fetch(server.url, { headers: { ...asBob, accept: 'text/event-stream' } })).status, 404, 'GET by another principal')
  t.equal((await fetch(server.url, { method: 'DELETE', headers: asBob })).status, 404, 'DELETE by another principal')
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })).status, 200, 'still alive for its owner')
})

t.test('DELETE ends the session; the SDK client can terminate it too', async (t) => {
  const server = await listen(config())
  t.teardown(server.close)
  const id = await openSession(server.url, ALICE)
  const ended = await fetch(server.url, { method: 'DELETE', headers: { 'x-api-key': ALICE, 'mcp-session-id': id } })
  t.equal(ended.status, 204)
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })).status, 404, 'ended session is gone')

  // Sessions are a 2025-era feature: the 1.x client's own transport ends its session.
  const { client, sessionId: sessionIdOf, close } = await connect(server.url, { 'x-api-key': ALICE }, 'legacy')
  const sessionId = sessionIdOf() ?? ''
  t.match(sessionId, /^[0-9a-f-]{36}$/, 'the SDK client got a session')
  await ((client as LegacyClient).transport as LegacyHttpTransport).terminateSession()
  await close()
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': sessionId })).status, 404)
})

t.test('idle sessions expire', async (t) => {
  let now = 1_000_000
  const server = await listen(config({ sessionIdleTimeout: '10m' }), { mcp: { now: () => now } })
  t.teardown(server.close)
  const id = await openSession(server.url, ALICE)
  now += 9 * 60_000
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })).status, 200, 'used within 10 minutes')
  now += 9 * 60_000
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })).status, 200, 'each use restarts the idle clock')
  now += 10 * 60_000 + 1
  t.equal((await post(server.url, addCall, { 'x-api-key': ALICE, 'mcp-session-id': id })).status, 404, 'idle for over 10 minutes: gone')
})

t.test('the number of sessions is capped with a clear 503', async (t) => {
  const server = await listen(config({ maxSessions: 2 }))
  t.teardown(server.close)
  const first = await openSession(server.url, ALICE)
  await openSession(server.url, BOB)
  const full = await post(server.url, initialize, { 'x-api-key': ALICE })
  t.equal(full.status, 503)
  t.equal(full.headers.get('retry-after'), '60')
  t.match(await full.json(), { jsonrpc: '2.0', error: { message: /too many sessions/ } })

  await fetch(server.url, { method: 'DELETE', headers: { 'x-api-key': ALICE, 'mcp-session-id': first } })
  t.equal((await post(server.url, initialize, { 'x-api-key': ALICE })).status, 200, 'a freed slot can be used again')
})

t.test('GET opens the session stream; server notifications reach the SDK client over it', async (t) => {
  const createServer = () => {
    const server = new McpServer({ name: 'announcer', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
    registerCalculatorTools(server)
    server.registerTool('announce', { description: 'tells clients the tool list changed' }, async () => {
      server.sendToolListChanged()
      return { content: [{ type: 'text', text: 'sent' }] }
    })
    return server
  }
  const server = await listen(config(), { mcp: { createServer } })
  t.teardown(server.close)

  const id = await openSession(server.url, ALICE)
  const notAcceptable = await fetch(server.url, { headers: { 'x-api-key': ALICE, 'mcp-session-id': id } })
  t.equal(notAcceptable.status, 406, 'GET must accept text/event-stream')
  const stream = await fetch(server.url, { headers: { 'x-api-key': ALICE, 'mcp-session-id': id, accept: 'text/event-stream' } })
  t.equal(stream.status, 200)
  t.equal(stream.headers.get('content-type'), 'text/event-stream')
  t.equal(stream.headers.get('mcp-session-id'), id)
  const second = await fetch(server.url, { headers: { 'x-api-key': ALICE, 'mcp-session-id': id, accept: 'text/event-stream' } })
  t.equal(second.status, 409, 'one stream per session')
  await stream.body?.cancel()

  const { client, close } = await connect(server.url, { 'x-api-key': ALICE }, 'legacy')
  t.teardown(close)
  const notified = new Promise<string>((resolve) => {
    (client as LegacyClient).setNotificationHandler(ToolListChangedNotificationSchema, (notification) => resolve(notification.method))
  })
  // The SDK client opens its GET stream after initialization; wait until the server has it.
  await t.resolves(callTool(client, 'announce', {}))
  t.equal(await notified, 'notifications/tools/list_changed')
})

t.test('per-session state does not grow over thousands of requests', async (t) => {
  const store = new SessionStore({ idleTimeout: 600_000, maxSessions: 10 })
  const server = await listen(config(), { mcp: { sessionStore: store } })
  t.teardown(server.close)
  // Raw requests rather than the SDK client: its transport shares one AbortSignal across all its
  // fetches, which piles up listeners until GC and would drown this test in warnings.
  const id = await openSession(server.url, ALICE)
  const session = await store.get(id, 'api-key:alice')
  if (session === undefined) throw new Error('session not found in the store')
  const headers = { 'x-api-key': ALICE, 'mcp-session-id': id }

  const rounds = 60
  const perRound = 50
  for (let round = 0; round < rounds; round++) {
    const responses = await Promise.all(Array.from({ length: perRound }, async (_, i) => {
      const response = await post(server.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: round, b: i } } }, headers)
      return await response.json() as { id: number, result: { structuredContent: { result: number } } }
    }))
    t.equal(responses.filter((r, i) => r.id === 1 && r.result.structuredContent.result === round + i).length, perRound, `round ${round}: every caller got its own result`)
    t.equal(session.transport.inFlightCount, 0, `round ${round}: nothing left in flight`)
    t.equal(session.transport.trackedIdCount, 0, `round ${round}: no request id kept`)
  }
  t.equal(store.size, 1, `one session after ${rounds * perRound} requests`)
})

t.test('stateful: notifications/cancelled reaches the call it names, on either path', async (t) => {
  for (const fastToolCalls of [true, false]) {
    let started!: () => void
    const running = new Promise<void>((resolve) => { started = resolve })
    let sawAbort!: () => void
    const aborted = new Promise<void>((resolve) => { sawAbort = resolve })
    // 'wait' is a direct tool: with the fast path on, its calls skip the SDK.
    const createServer = (): MountedServer => {
      const server = new McpServer({ name: 'waits', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
      const wait = server.registerTool('wait', { inputSchema: z.object({}) }, async (_args, ctx) => {
        started()
        await new Promise((resolve) => ctx.mcpReq.signal.addEventListener('abort', resolve))
        sawAbort()
        return { content: [{ type: 'text', text: 'aborted' }] }
      })
      return { server, directTools: new Map([['wait', wait]]) }
    }
    const server = await listen(config({ fastToolCalls }), { mcp: { createServer } })
    const id = await openSession(server.url, ALICE)
    const headers = { 'x-api-key': ALICE, 'mcp-session-id': id }
    const call = post(server.url, { jsonrpc: '2.0', id: 'w-1', method: 'tools/call', params: { name: 'wait', arguments: {} } }, headers)
    await running
    const cancel = await post(server.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'w-1', reason: 'user' } }, headers)
    t.equal(cancel.status, 202)
    const answer = await (await call).json() as Record<string, unknown>
    const path = fastToolCalls ? 'fast path' : 'SDK path'
    // Both paths now answer a cancelled call alike: the handler's signal aborts, and the caller is
    // answered as cancelled (the fast path used to hand back what the aborted handler returned).
    await aborted
    t.pass(`${path}: the handler saw its signal abort`)
    t.same(answer, { jsonrpc: '2.0', id: 'w-1', error: { code: -32800, message: 'Request cancelled' } }, `${path}: the call is answered as cancelled`)
    await server.close()
  }
})
