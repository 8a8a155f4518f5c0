import t from 'tap'
import { callTool, connect, post, addCall, textOf, CLIENT_GENERATIONS } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

// Behind an identity-aware proxy: the header is believed only from a configured proxy address.
// The tests' clients connect from 127.0.0.1, so "the proxy" is loopback here.

function trustedConfig (trustedHeader: Record<string, unknown>, server: Record<string, unknown> = {}) {
  return testConfig({
    server,
    auth: { strategy: 'trusted-header', trustedHeader: { users: [{ id: 'ada', permissions: ['calculator:*'] }], ...trustedHeader } }
  })
}

t.test('from a configured proxy: the named user, with real clients of both eras', async (t) => {
  const server = await listen(trustedConfig({ proxies: ['127.0.0.1'], users: [{ id: 'ada', permissions: ['calculator:*'] }, { id: 'grace', permissions: ['calculator:add', 'calculator:whoami'] }] }))
  t.teardown(server.close)
  for (const generation of CLIENT_GENERATIONS) {
    const { client, close } = await connect(server.url, { 'x-forwarded-user': 'grace' }, generation)
    t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'grace', strategy: 'trusted-header', permissions: ['calculator:add', 'calculator:whoami'] }, `${generation} client`)
    t.equal(textOf(await callTool(client, 'add', { a: 2, b: 2 })), '4')
    await t.rejects(callTool(client, 'multiply', { a: 2, b: 2 }), { code: -32003 }, 'her permissions, not more')
    await close()
  }
  const unknown = await post(server.url, addCall, { 'x-forwarded-user': 'mallory' })
  t.equal(unknown.status, 401, 'a user not listed, without defaultPermissions')
  t.equal(unknown.headers.get('www-authenticate'), 'TrustedHeader realm="mcp", header="x-forwarded-user"')
  const none = await post(server.url, addCall)
  t.equal((await none.json() as { code: string }).code, 'MCP_AUTH_MISSING_CREDENTIALS')
  for (const name of ['ada, grace', 'ada\tgrace', 'a'.repeat(257)]) {
    t.equal((await post(server.url, addCall, { 'x-forwarded-user': name })).status, 401, `not one user name: ${JSON.stringify(name.slice(0, 12))}`)
  }
  const audit = server.logs.records().filter((record) => record.event === 'auth' && record.strategy === 'trusted-header')
  t.ok(audit.some((record) => record.outcome === 'success' && record.principal === 'grace'), 'successes are audited')
  t.ok(audit.some((record) => record.outcome === 'failure' && record.reason === 'invalid_credentials'), 'refusals are audited')
})

t.test('defaultPermissions: any user the proxy names', async (t) => {
  const server = await listen(trustedConfig({ proxies: ['loopback'], users: [], defaultPermissions: ['calculator:whoami'] }))
  t.teardown(server.close)
  const { client, close } = await connect(server.url, { 'x-forwarded-user': 'someone@example.com' }, 'modern')
  t.teardown(close)
  t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'someone@example.com', permissions: ['calculator:whoami'] })
})

t.test('from anyone but a configured proxy: refused and logged, whatever X-Forwarded-For says', async (t) => {
  const server = await listen(trustedConfig({ proxies: ['10.0.0.0/8'] }, { trustProxy: true }))
  t.teardown(server.close)
  const spoofed = await post(server.url, addCall, { 'x-forwarded-user': 'ada', 'x-forwarded-for': '10.1.2.3' })
  t.equal(spoofed.status, 401)
  t.equal((await spoofed.json() as { code: string }).code, 'MCP_AUTH_INVALID_CREDENTIALS')
  t.ok(server.logs.records().some((record) => record.level === 40 && record.event === 'auth' && record.reason === 'untrusted_peer' && record.peer === '127.0.0.1'), 'a warning names the peer')
})

t.test('the options are checked when the config is read', async (t) => {
  t.throws(() => trustedConfig({ proxies: [] }), { message: /auth\.trustedHeader\.proxies: name at least one proxy address/ })
  t.throws(() => trustedConfig({ proxies: ['not an address'] }), { message: /auth\.trustedHeader\.proxies: expected IP addresses or CIDR ranges/ })
  t.throws(() => trustedConfig({ proxies: ['127.0.0.1'], users: [] }), { message: /auth\.trustedHeader\.users: give users, or defaultPermissions/ })
})
