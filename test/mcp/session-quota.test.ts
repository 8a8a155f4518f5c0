import t from 'tap'
import { post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

// One principal cannot take every session slot: past its quota its own initialize is refused,
// and other principals still get sessions.
const keys = { hog: 'session-hog-key-0123456789abcdefghi', other: 'session-other-key-0123456789abcdef' }
const initialize = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'q', version: '0' } } }

t.test('a per-principal session quota', async (t) => {
  const server = await listen(testConfig({
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'hog', key: keys.hog, permissions: ['*'] }, { id: 'other', key: keys.other, permissions: ['*'] }] } },
    mcp: { sessions: 'stateful', maxSessions: 10, maxSessionsPerPrincipal: 3 }
  }))
  t.teardown(server.close)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const opened = await post(server.url, initialize, { 'x-api-key': keys.hog })
    t.equal(opened.status, 200, `session ${i + 1} of 3`)
    ids.push(opened.headers.get('mcp-session-id') ?? '')
  }
  const refused = await post(server.url, initialize, { 'x-api-key': keys.hog })
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '60')
  t.match(await refused.json(), { error: { code: -32000, message: /you hold 3 sessions, the most one principal may; end one \(DELETE\)/ } })
  t.equal((await post(server.url, initialize, { 'x-api-key': keys.other })).status, 200, 'another principal still gets one')

  const ended = await fetch(server.url, { method: 'DELETE', headers: { 'x-api-key': keys.hog, 'mcp-session-id': ids[0] ?? '' } })
  t.equal(ended.status, 204)
  t.equal((await post(server.url, initialize, { 'x-api-key': keys.hog })).status, 200, 'ending one frees a slot')
})
