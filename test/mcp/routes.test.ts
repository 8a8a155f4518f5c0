import t, { type Test } from 'tap'
import { request as httpRequest } from 'node:http'
import { addCall, post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

const KEY = 'route-rules-key-0123456789abcdefghij'
const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] } }
const withKey = { 'x-api-key': KEY }

/** A JSON-RPC error; its id is the request's when the body was read far enough to know it, else null. */
async function jsonRpcError (t: Test, response: Response, status: number, code: number, message: RegExp, id: string | number | null = null): Promise<void> {
  t.equal(response.status, status)
  t.match(response.headers.get('content-type'), /^application\/json/)
  const body = await response.json() as { jsonrpc: string, id: unknown, error: { code: number, message: string } }
  t.equal(body.jsonrpc, '2.0')
  t.equal(body.id, id)
  t.equal(body.error.code, code)
  t.match(body.error.message, message)
}

/** A request with a Host header of our choosing (fetch does not allow setting it). */
async function rawPost (url: URL, headers: Record<string, string>, body: string): Promise<{ status: number | undefined, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => resolve({ status: res.statusCode, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('stateless: GET and DELETE are 405 with Allow: POST', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  for (const method of ['GET', 'DELETE']) {
    const response = await fetch(server.url, { method, headers: { ...withKey, accept: 'text/event-stream' } })
    t.equal(response.headers.get('allow'), 'POST', method)
    await jsonRpcError(t, response, 405, -32000, /stateless/)
  }
})

t.test('Origin and Host checks (bound to loopback: loopback names only)', async (t) => {
  const server = await listen(testConfig({ auth, mcp: { allowedOrigins: ['https://app.example.com'] } }))
  t.teardown(server.close)

  await jsonRpcError(t, await post(server.url, addCall, { ...withKey, origin: 'https://evil.example.net' }), 403, -32000, /Origin not allowed/)
  t.equal((await post(server.url, addCall, { ...withKey, origin: 'https://app.example.com' })).status, 200, 'a listed origin passes')
  t.equal((await post(server.url, addCall, { ...withKey, origin: 'http://localhost:6274' })).status, 403, 'configured list replaces the loopback default')
  t.equal((await post(server.url, addCall, { ...withKey, origin: `http://${server.url.host}` })).status, 200, 'same origin passes')
  t.equal((await post(server.url, addCall, withKey)).status, 200, 'no Origin (non-browser client) passes')

  const rebinding = await rawPost(server.url, { ...withKey, host: `attacker.example:${server.url.port}` }, JSON.stringify(addCall))
  t.equal(rebinding.status, 403, 'a foreign Host is refused')
  t.match(JSON.parse(rebinding.body), { jsonrpc: '2.0', id: null, error: { code: -32000, message: /Host header not allowed/ } })
  const localhost = await rawPost(server.url, { ...withKey, host: `localhost:${server.url.port}` }, JSON.stringify(addCall))
  t.equal(localhost.status, 200, 'localhost passes')
})

t.test('loopback origins are allowed by default when bound to loopback; configured hosts replace the default', async (t) => {
  const server = await listen(testConfig({ auth, mcp: { allowedHosts: ['mcp.internal'] } }))
  t.teardown(server.close)
  const inspector = await rawPost(server.url, { ...withKey, host: 'mcp.internal:80', origin: 'http://localhost:6274' }, JSON.stringify(addCall))
  t.equal(inspector.status, 200, 'MCP Inspector origin on a loopback port')
  const loopbackHost = await rawPost(server.url, { ...withKey, host: `127.0.0.1:${server.url.port}` }, JSON.stringify(addCall))
  t.equal(loopbackHost.status, 403, 'only the configured host list applies')
})

t.test('an unsupported MCP-Protocol-Version is 400', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  await jsonRpcError(t, await post(server.url, addCall, { ...withKey, 'mcp-protocol-version': '1999-01-01' }), 400, -32000, /unsupported MCP-Protocol-Version/, addCall.id)
  t.equal((await post(server.url, addCall, { ...withKey, 'mcp-protocol-version': '2025-06-18' })).status, 200)
})

t.test('bodies that are not JSON-RPC get JSON-RPC errors', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  await jsonRpcError(t, await post(server.url, '{"jsonrpc":', withKey), 400, -32700, /Parse error/)
  await jsonRpcError(t, await post(server.url, { hello: 'world' }, withKey), 400, -32600, /not a valid JSON-RPC message/)
  await jsonRpcError(t, await post(server.url, [], withKey), 400, -32600, /empty JSON-RPC batch/)
  await jsonRpcError(t, await post(server.url, Array.from({ length: 101 }, (_, id) => ({ ...addCall, id })), withKey), 400, -32600, /at most 100/)
  const text = await fetch(server.url, { method: 'POST', headers: { ...withKey, 'content-type': 'text/plain' }, body: JSON.stringify(addCall) })
  await jsonRpcError(t, text, 415, -32000, /Content-Type must be application\/json/)
  const huge = await post(server.url, { ...addCall, params: { name: 'add', arguments: { a: 1, b: 2, pad: 'x'.repeat(2 * 1024 * 1024) } } }, withKey)
  await jsonRpcError(t, huge, 413, -32000, /Payload Too Large/)
})

t.test('a batch is answered in order with each id; notifications alone get 202', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  const batch = await post(server.url, [
    { jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'multiply', arguments: { a: 2, b: 3 } } },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', id: 7, method: 'ping' }
  ], withKey)
  t.equal(batch.status, 200)
  t.match(await batch.json(), [{ id: 'x', result: { structuredContent: { result: 6 } } }, { id: 7, result: {} }])

  const notification = await post(server.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, withKey)
  t.equal(notification.status, 202)
  t.equal(await notification.text(), '')
})

t.test('/healthz answers without credentials', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  const response = await fetch(new URL('/healthz', server.url))
  t.equal(response.status, 200)
  t.same(await response.json(), { status: 'ok' })
})
