import t from 'tap'
import { addCall, post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

const KEY = 'metrics-test-key-0123456789abcdefgh'
const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'm', key: KEY, permissions: ['calculator:add', 'calculator:divide'] }] } }
const call = (name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } })

/** The value of one sample line, by its full name with labels. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('off by default', async (t) => {
  const server = await listen(testConfig({ auth }))
  t.teardown(server.close)
  t.equal((await fetch(new URL('/metrics', server.url))).status, 404)
})

t.test('content after a known sequence of requests', async (t) => {
  const server = await listen(testConfig({ auth, metrics: { enabled: true }, mcp: { sessions: 'stateful' }, rateLimit: { tools: { divide: { max: 1, timeWindow: '1m' } } } }))
  t.teardown(server.close)
  const init = await post(server.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'm', version: '0' } } }, { 'x-api-key': KEY })
  const headers = { 'x-api-key': KEY, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '' }
  await post(server.url, call('add', { a: 1, b: 2 }), headers)
  await post(server.url, call('add', { a: 1, b: 2 }), headers)
  await post(server.url, call('divide', { a: 1, b: 0 }), headers)
  await post(server.url, call('divide', { a: 1, b: 1 }), headers)
  await post(server.url, call('sqrt', { x: 4 }), headers)
  await post(server.url, addCall)
  await post(server.url, addCall, { 'x-api-key': 'wrong-key-0123456789abcdefghijklm' })

  const response = await fetch(new URL('/metrics', server.url))
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain/)
  const text = await response.text()
  t.equal(sample(text, 'mcp_auth_attempts_total{strategy="api-key",outcome="success",reason="none"}'), 6, 'initialize, five calls (the rate-limited one was authenticated)')
  t.equal(sample(text, 'mcp_auth_attempts_total{strategy="api-key",outcome="failure",reason="missing_credentials"}'), 1)
  t.equal(sample(text, 'mcp_auth_attempts_total{strategy="api-key",outcome="failure",reason="invalid_credentials"}'), 1)
  t.equal(sample(text, 'mcp_auth_attempts_total{strategy="api-key",outcome="failure",reason="insufficient_permission"}'), 1)
  t.equal(sample(text, 'mcp_tool_calls_total{tool="add",outcome="success"}'), 2)
  t.equal(sample(text, 'mcp_tool_calls_total{tool="divide",outcome="error"}'), 1)
  t.equal(sample(text, 'mcp_tool_calls_total{tool="sqrt",outcome="denied"}'), 1)
  t.equal(sample(text, 'mcp_rate_limited_total{limit="divide"}'), 1)
  t.equal(sample(text, 'mcp_active_sessions'), 1)
  t.equal(sample(text, 'mcp_http_request_duration_seconds_count{route="/mcp",method="POST",status="200"}'), 5)
  t.equal(sample(text, 'mcp_http_request_duration_seconds_count{route="/mcp",method="POST",status="401"}'), 2)
  t.equal(sample(text, 'mcp_http_request_duration_seconds_count{route="/mcp",method="POST",status="429"}'), 1)
})

t.test('on a port of its own, behind a key of its own', async (t) => {
  const server = await listen(testConfig({ auth, metrics: { enabled: true, port: 0, key: 'the-metrics-key-0123456789abcdef' } }))
  t.teardown(server.close)
  t.equal((await fetch(new URL('/metrics', server.url))).status, 404, 'not on the main port')
  const url = server.metricsUrl ?? ''
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const refused = await fetch(url)
  t.equal(refused.status, 401)
  t.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401)
  const ok = await fetch(url, { headers: { authorization: 'Bearer the-metrics-key-0123456789abcdef' } })
  t.equal(ok.status, 200)
  t.match(await ok.text(), /mcp_auth_attempts_total/)
})
