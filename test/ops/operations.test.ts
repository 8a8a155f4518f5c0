import t from 'tap'
import { connect as netConnect } from 'node:net'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { McpServer } from '@modelcontextprotocol/server'
import { registerCalculatorTools } from '../../mcp/calculator.js'
import { DUAL_ERA_PROTOCOL_VERSIONS } from '../../mcp/protocol-versions.js'
import { addCall, post } from '../helpers/client.js'
import { issuingConfig, tokens } from '../helpers/issuing.js'
import { redisTest } from '../helpers/redis.js'
import { listen, testConfig } from '../helpers/server.js'

const KEY = 'operations-key-0123456789abcdefghij'
const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'ops', key: KEY, permissions: ['*'] }] } }

/** A raw HTTP exchange, for requests fetch will not send (huge heads, requests that never end). */
async function raw (port: number, request: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(request))
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
    socket.on('end', () => resolve(answer))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
}

redisTest(t, '/healthz and /readyz; readiness follows Redis', async (t, redis) => {
  const config = issuingConfig(redis.url)
  const server = await listen({ ...config, rateLimit: { ...config.rateLimit, redisUrl: redis.url } })
  t.teardown(server.close)
  const ready = async () => { const r = await fetch(new URL('/readyz', server.url)); return { status: r.status, body: await r.json() as Record<string, unknown> } }
  t.same(await ready(), { status: 200, body: { status: 'ready' } })
  t.equal((await fetch(new URL('/healthz', server.url))).status, 200)
  await redis.stop()
  t.same(await ready(), { status: 503, body: { status: 'unavailable', failing: ['token store', 'rate-limit store'] } })
  t.equal((await fetch(new URL('/healthz', server.url))).status, 200, 'still alive')
  await redis.start()
  let state = await ready()
  for (let attempt = 0; attempt < 100 && state.status !== 200; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50)) // polling ioredis's reconnect, not timing anything
    state = await ready()
  }
  t.equal(state.status, 200, 'ready again once Redis is back')
}, { own: true })

t.test('limits that stop cheap attacks, each a clear 4xx', async (t) => {
  const server = await listen(testConfig({ server: { bodyLimit: 2048, maxHeaderSize: 4096, requestTimeout: '300ms', connectionTimeout: '1s' }, auth, mcp: { maxBatchSize: 2 } }))
  t.teardown(server.close)
  const big = await post(server.url, { ...addCall, params: { name: 'add', arguments: { a: 1, b: 2, pad: 'x'.repeat(4096) } } }, { 'x-api-key': KEY })
  t.equal(big.status, 413, 'body over server.bodyLimit')
  const batch = await post(server.url, [addCall, addCall, addCall], { 'x-api-key': KEY })
  t.equal(batch.status, 400, 'batch over mcp.maxBatchSize')
  const port = Number(server.url.port)
  const hugeHead = await raw(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${KEY}\r\nx-padding: ${'x'.repeat(8192)}\r\n\r\n`)
  t.match(hugeHead, /^HTTP\/1\.1 431 /, 'head over server.maxHeaderSize')
  const slowHead = await raw(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${KEY}\r\n`)
  t.match(slowHead, /^HTTP\/1\.1 408 /, 'a head that never completes: 408 after server.requestTimeout')
  const slowBody = await raw(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"jsonrpc"`)
  t.equal(slowBody, '', 'a body that never completes: the idle connection is closed after server.connectionTimeout')
})

redisTest(t, 'graceful shutdown: in-flight requests finish, sessions and Redis connections end', async (t, redis) => {
  let release!: () => void
  let entered!: () => void
  const inTool = new Promise<void>((resolve) => { entered = resolve })
  const gate = new Promise<void>((resolve) => { release = resolve })
  const createServer = () => {
    const server = new McpServer({ name: 'slow', version: '0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
    registerCalculatorTools(server)
    server.registerTool('slow', { inputSchema: z.object({}) }, async () => { entered(); await gate; return { content: [{ type: 'text', text: 'finished' }] } })
    return server
  }
  const config = issuingConfig(redis.url)
  const server = await listen({ ...config, mcp: { ...config.mcp, sessions: 'stateful' } }, { mcp: { createServer } })
  const { access } = await tokens(server.url.origin, { id: 'admin', secret: 'admin secret, 0123456789abcdef' })
  const headers = { authorization: `Bearer ${access}` }
  const init = await post(server.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'g', version: '0' } } }, headers)
  const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '' }
  const stream = await fetch(server.url, { headers: { ...session, accept: 'text/event-stream' } })
  const streamEnded = (async () => {
    const reader = stream.body?.getReader()
    for (let chunk = await reader?.read(); chunk !== undefined && !chunk.done; chunk = await reader?.read());
    return true
  })()

  const inspect = new Redis(redis.url)
  t.teardown(() => inspect.disconnect())
  const clients = async () => (await inspect.client('LIST') as string).trim().split('\n').length
  const before = await clients()

  const inFlight = post(server.url, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'slow', arguments: {} } }, session)
  await inTool
  const closing = server.close()
  t.equal(await streamEnded, true, 'the session stream was ended')
  release()
  const answer = await inFlight
  t.equal(answer.status, 200, 'the in-flight request finished')
  t.match(await answer.json(), { id: 5, result: { content: [{ text: 'finished' }] } })
  await closing
  t.ok(before > 1, `the server held Redis connections (${before - 1})`)
  t.equal(await clients(), 1, 'only the test\'s own Redis connection is left')
}, { own: true })
