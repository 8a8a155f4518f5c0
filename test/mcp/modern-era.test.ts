import t, { type Test } from 'tap'
import { addCall, MODERN_ENVELOPE, post, postModern } from '../helpers/client.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'

// The 2026-07-28 rules on the shared endpoint, request by request: what a modern client must send
// and what it gets back, and the hostile cases of each rule.
const KEY = 'modern-era-key-0123456789abcdefghijk'
const auth = (permissions: string[] = ['*']) => ({ strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions }] } })
const withKey = { 'x-api-key': KEY }
const call = (name: string, args: Record<string, unknown>) => ({ name, arguments: args })

interface RpcBody { jsonrpc: string, id: unknown, result?: Record<string, unknown>, error?: { code: number, message: string, data?: Record<string, unknown> } }

async function started (t: Test, raw: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await listen(testConfig({ auth: auth(), ...raw }))
  t.teardown(server.close)
  return server
}

async function rpc (response: Response): Promise<RpcBody> {
  return await response.json() as RpcBody
}

t.test('a modern request is served statelessly: resultType, server identity, no session', async (t) => {
  const server = await started(t, { mcp: { sessions: 'stateful' } })
  const discovered = await postModern(server.url, 'server/discover', {}, withKey)
  t.equal(discovered.status, 200)
  t.equal(discovered.headers.get('mcp-session-id'), null, 'no session id is minted')
  const discover = await rpc(discovered)
  t.match(discover.result, {
    resultType: 'complete',
    supportedVersions: ['2026-07-28'],
    capabilities: { tools: { listChanged: false } },
    cacheScope: 'public',
    _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'fastify-mcp-auth-calculator' } }
  })
  const sum = await rpc(await postModern(server.url, 'tools/call', call('add', { a: 2, b: 3 }), withKey))
  t.same(sum.result?.structuredContent, { result: 5 })
  t.equal(sum.result?.resultType, 'complete')
  t.match(sum.result?._meta, { 'io.modelcontextprotocol/serverInfo': { name: 'fastify-mcp-auth-calculator', version: '0.1.0' } }, 'the direct path stamps the identity the SDK path does')

  const withSession = await postModern(server.url, 'tools/call', call('add', { a: 1, b: 1 }), { ...withKey, 'mcp-session-id': 'made-up' })
  t.equal(withSession.status, 200, 'a session id on a modern request is ignored')
  t.equal(withSession.headers.get('mcp-session-id'), null, 'and never echoed')
})

t.test('tools/list is filtered per principal, and therefore cacheable only privately', async (t) => {
  const server = await listen(testConfig({ auth: auth(['calculator:add']) }))
  t.teardown(server.close)
  const listed = await rpc(await postModern(server.url, 'tools/list', {}, withKey))
  t.same((listed.result?.tools as Array<{ name: string }>).map((tool) => tool.name), ['add'])
  t.equal(listed.result?.cacheScope, 'private')
  t.equal(listed.result?.ttlMs, 300000)
  const denied = await rpc(await postModern(server.url, 'tools/call', call('divide', { a: 1, b: 1 }), withKey))
  t.match(denied.error, { code: -32003, message: 'Permission denied: calculator:divide' })
})

t.test('the envelope and the headers must be there and agree', async (t) => {
  const server = await started(t)
  const body = (method: string, params: Record<string, unknown>, id = 7) => ({ jsonrpc: '2.0', id, method, params: { ...params, _meta: MODERN_ENVELOPE } })
  const headers = { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' }
  const cases: Array<[string, unknown, Record<string, string>, number, number, RegExp]> = [
    ['no MCP-Protocol-Version', body('tools/call', call('add', {})), { ...withKey, 'mcp-method': 'tools/call', 'mcp-name': 'add' }, 400, -32020, /MCP-Protocol-Version header is absent/],
    ['no Mcp-Method', body('tools/call', call('add', {})), { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-name': 'add' }, 400, -32020, /Mcp-Method header is absent/],
    ['an Mcp-Method that differs', body('tools/call', call('add', {})), { ...headers, 'mcp-method': 'tools/list' }, 400, -32020, /Mcp-Method/],
    ['an Mcp-Method in another case', body('tools/call', call('add', {})), { ...headers, 'mcp-method': 'TOOLS/CALL' }, 400, -32020, /Mcp-Method/],
    ['no Mcp-Name on tools/call', body('tools/call', call('add', {})), { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' }, 400, -32020, /Mcp-Name header is absent/],
    ['an Mcp-Name naming a cheaper tool', body('tools/call', call('power', { a: 2, b: 2 })), headers, 400, -32020, /Mcp-Name/],
    ['a Base64 Mcp-Name without its padding', body('tools/call', call('add', {})), { ...headers, 'mcp-name': '=?base64?YWQ?=' }, 400, -32020, /invalid Base64/],
    ['a Base64 Mcp-Name with foreign characters', body('tools/call', call('add', {})), { ...headers, 'mcp-name': '=?base64?Y!Rk?=' }, 400, -32020, /invalid Base64/],
    ['a header version the body does not carry', body('tools/call', call('add', {})), { ...headers, 'mcp-protocol-version': '2025-11-25' }, 400, -32020, /disagree/],
    ['a modern header without the envelope', { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }, { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }, 400, -32602, /envelope/]
  ]
  for (const [what, payload, sent, status, code, message] of cases) {
    const response = await post(server.url, payload, sent)
    const answer = await rpc(response)
    t.equal(response.status, status, what)
    t.equal(answer.error?.code, code, `${what}: ${code}`)
    t.match(answer.error?.message, message, what)
    t.equal(answer.id, 7, `${what}: the error answers the request's id`)
  }

  const unsupported = await post(server.url, { jsonrpc: '2.0', id: 8, method: 'server/discover', params: { _meta: { ...MODERN_ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
    { ...withKey, 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'server/discover' })
  t.equal(unsupported.status, 400)
  t.match(await rpc(unsupported), { id: 8, error: { code: -32022, data: { supported: ['2026-07-28'], requested: '2099-01-01' } } }, 'an unsupported version lists the supported ones')

  const base64 = await post(server.url, body('tools/call', call('add', { a: 1, b: 2 })), { ...headers, 'mcp-name': `=?base64?${Buffer.from('add').toString('base64')}?=` })
  t.equal(base64.status, 200, 'a Base64 sentinel is decoded before the comparison')
  const literal = await post(server.url, body('tools/call', call('add', { a: 1, b: 2 })), { ...headers, 'mcp-name': '=?BASE64?YWRk?=' })
  t.equal(literal.status, 400, 'the markers are case-sensitive: an upper-case one is a literal value, which does not match')
  const spaced = await post(server.url, body('tools/call', call('add', { a: 1, b: 2 })), { ...headers, 'mcp-name': '  add  ' })
  t.equal(spaced.status, 200, 'whitespace around a header value is not part of it')
})

t.test('one message per POST; removed methods are not found; notifications are accepted', async (t) => {
  const server = await started(t)
  const batch = await post(server.url, [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: MODERN_ENVELOPE } }], { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' })
  t.equal(batch.status, 400, 'a batch holding a modern request')
  t.equal((await rpc(batch)).error?.code, -32600)
  for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'no/such-method']) {
    const response = await postModern(server.url, method, {}, withKey)
    t.equal(response.status, 404, `${method}: 404`)
    t.equal((await rpc(response)).error?.code, -32601, `${method}: -32601`)
  }
  const notification = await post(server.url, { jsonrpc: '2.0', method: 'notifications/whatever', params: { _meta: MODERN_ENVELOPE } }, { ...withKey, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'notifications/whatever' })
  t.equal(notification.status, 202)
  t.equal(await notification.text(), '')
})

t.test('GET and DELETE belong to 2025 sessions: 405 on a stateless server', async (t) => {
  const server = await started(t)
  for (const method of ['GET', 'DELETE']) {
    const response = await fetch(server.url, { method, headers: { ...withKey, 'mcp-protocol-version': '2026-07-28', accept: 'text/event-stream' } })
    t.equal(response.status, 405, method)
  }
})

t.test('Accept must take JSON or an event stream', async (t) => {
  const server = await started(t)
  for (const accept of ['text/html', 'application/json;q=0, text/event-stream;q=0']) {
    const response = await post(server.url, addCall, { ...withKey, accept })
    t.equal(response.status, 406, accept)
    t.match((await rpc(response)).error?.message, /Not Acceptable/)
  }
  for (const accept of ['application/json', 'text/event-stream', '*/*', 'application/*']) {
    const response = await postModern(server.url, 'tools/call', call('add', { a: 1, b: 1 }), { ...withKey, accept })
    t.equal(response.status, 200, accept)
    const type = response.headers.get('content-type') ?? ''
    const text = await response.text()
    if (accept === 'text/event-stream') {
      t.match(type, /^text\/event-stream/, 'an SSE-only client gets a stream')
      t.match(text, /^event: message\ndata: \{.*"result":\{"content"/)
    } else {
      t.match(type, /^application\/json/)
    }
  }
  const noAccept = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...withKey }, body: JSON.stringify(addCall) })
  t.equal(noAccept.status, 200, 'no Accept header takes anything (RFC 9110)')
})
