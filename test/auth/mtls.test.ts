import t, { type Test } from 'tap'
import { addCall, callTool, connect, CLIENT_GENERATIONS, post, textOf } from '../helpers/client.js'
import { TestPki, type Pems } from '../helpers/certificates.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { API_KEY } from '../helpers/credentials.js'

// Client certificates, checked by the TLS handshake against server.tls.caFile (mutual TLS), or
// forwarded by a TLS-terminating proxy. The certificates are made here: a CA, the server's
// certificate, and client certificates the CA signs.

const pki = await TestPki.create()
const agent7 = await pki.issue({ subject: { CN: 'agent-7', O: 'Acme' }, altNames: [{ type: 6, value: 'spiffe://example.test/agent/7' }, { type: 2, value: 'agent7.example.test' }] })
const buildBot = await pki.issue({ subject: { CN: 'build-bot', O: 'Acme' } })
const pinned = await pki.issue({ subject: { CN: 'pinned' } })
const clients = [
  { id: 'pinned-client', fingerprint: pinned.fingerprint, permissions: ['calculator:whoami'] },
  { id: 'agent-7', san: 'URI:spiffe://example.test/agent/7', permissions: ['calculator:*'] },
  { id: 'build-bot', subject: { CN: 'build-bot', O: 'Acme' }, permissions: ['calculator:add', 'calculator:whoami'] }
]

async function mutualTls (t: Test, auth: Record<string, unknown> = { strategy: 'mtls', mtls: { clients } }): Promise<TestServer> {
  const server = await listen(testConfig({ server: { tls: pki.tlsFiles(t.testdir({})) }, auth }))
  t.teardown(server.close)
  return server
}

/** A raw POST over TLS presenting `certificate` (or none). */
async function tlsPost (t: Test, server: TestServer, certificate: Pems | undefined, headers: Record<string, string> = {}): Promise<Response> {
  const { fetch, close } = pki.fetchWith(certificate)
  t.teardown(close)
  return await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(addCall)
  })
}

function warnings (server: TestServer, reason: string): unknown[] {
  return server.logs.records().filter((record) => record.level === 40 && record.event === 'auth' && record.strategy === 'mtls' && record.reason === reason)
}

t.test('mutual TLS: each kind of rule maps its certificate to a client, with real clients of both eras', async (t) => {
  const server = await mutualTls(t)
  t.match(server.mcpUrl, /^https:/)
  const cases: Array<[string, Pems, string, string[]]> = [
    ['a pinned fingerprint', pinned, 'pinned-client', ['calculator:whoami']],
    ['a SAN URI', agent7, 'agent-7', ['calculator:*']],
    ['the whole subject', buildBot, 'build-bot', ['calculator:add', 'calculator:whoami']]
  ]
  for (const [rule, certificate, id, permissions] of cases) {
    for (const generation of CLIENT_GENERATIONS) {
      const { fetch, close: closeFetch } = pki.fetchWith(certificate)
      const { client, close } = await connect(server.url, {}, generation, fetch)
      t.match((await callTool(client, 'whoami', {})).structuredContent, { id, strategy: 'mtls', permissions }, `${rule}, ${generation} client`)
      await close()
      await closeFetch()
    }
  }
  const { fetch, close: closeFetch } = pki.fetchWith(agent7)
  t.teardown(closeFetch)
  const { client, close } = await connect(server.url, {}, 'modern', fetch)
  t.teardown(close)
  t.equal(textOf(await callTool(client, 'add', { a: 2, b: 5 })), '7')
  const audit = server.logs.records().filter((record) => record.event === 'auth' && record.strategy === 'mtls' && record.outcome === 'success')
  t.same(new Set(audit.map((record) => record.principal)), new Set(['pinned-client', 'agent-7', 'build-bot']), 'every success audited with its principal')
})

t.test('mutual TLS refusals: 401 with the challenge, a warning saying why, never a failed handshake', async (t) => {
  const server = await mutualTls(t)
  const foreign = await (await TestPki.create('Another CA')).issue({ subject: { CN: 'build-bot', O: 'Acme' } })
  const unlisted = await pki.issue({ subject: { CN: 'agent-9' } })
  const extraAttribute = await pki.issue({ subject: { CN: 'build-bot', O: 'Acme', OU: 'Elsewhere' } })
  const expired = await pki.issue({ subject: { CN: 'build-bot', O: 'Acme' }, notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) })

  const none = await tlsPost(t, server, undefined)
  t.equal(none.status, 401, 'no certificate')
  t.equal(none.headers.get('www-authenticate'), 'ClientCertificate realm="mcp"')
  t.equal((await none.json() as { code: string }).code, 'MCP_AUTH_MISSING_CREDENTIALS')

  for (const [label, certificate, reason] of [
    ['signed by another CA (same subject as a listed client)', foreign, 'unverified_certificate'],
    ['expired', expired, 'unverified_certificate'],
    ['signed by the CA but matching no client', unlisted, 'unknown_certificate'],
    ['a subject with one attribute more than the rule', extraAttribute, 'unknown_certificate']
  ] as const) {
    const before = warnings(server, reason).length
    const response = await tlsPost(t, server, certificate)
    t.equal(response.status, 401, label)
    t.equal((await response.json() as { code: string }).code, 'MCP_AUTH_INVALID_CREDENTIALS', label)
    t.equal(warnings(server, reason).length, before + 1, `${label}: warned as ${reason}`)
  }
  const audit = server.logs.records().filter((record) => record.event === 'auth' && record.strategy === 'mtls' && record.outcome === 'failure')
  t.equal(audit.length, 5, 'every refusal audited')
})

t.test('in a list: a client without a certificate may use another strategy on the same TLS port', async (t) => {
  const server = await mutualTls(t, { strategy: ['mtls', 'api-key'], mtls: { clients }, apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['calculator:whoami'] }] } })
  const { fetch, close: closeFetch } = pki.fetchWith()
  t.teardown(closeFetch)
  const { client, close } = await connect(server.url, { 'x-api-key': API_KEY }, 'legacy', fetch)
  t.teardown(close)
  t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'k', strategy: 'api-key' })
  const neither = await tlsPost(t, server, undefined)
  t.same(neither.headers.get('www-authenticate'), 'ClientCertificate realm="mcp", ApiKey realm="mcp", header="x-api-key"')
})

function forwardedConfig (proxies: string[]) {
  return testConfig({ auth: { strategy: 'mtls', mtls: { clients, forwarded: { proxies } } } })
}

t.test('forwarded by a TLS-terminating proxy: RFC 9440 Client-Cert or a URL-encoded PEM, from the proxy only', async (t) => {
  const server = await listen(forwardedConfig(['127.0.0.1']))
  t.teardown(server.close)
  for (const generation of CLIENT_GENERATIONS) {
    const { client, close } = await connect(server.url, { 'client-cert': agent7.rfc9440 }, generation)
    t.match((await callTool(client, 'whoami', {})).structuredContent, { id: 'agent-7', strategy: 'mtls' }, `${generation} client`)
    await close()
  }
  const escapedPem = await post(server.url, addCall, { 'client-cert': encodeURIComponent(buildBot.cert) })
  t.equal(escapedPem.status, 200, 'nginx $ssl_client_escaped_cert form')

  for (const [label, value, reason] of [
    ['not a certificate', ':bm90IGEgY2VydGlmaWNhdGU=:', 'unparsable_certificate'],
    ['neither form', 'MIIB', 'unparsable_certificate'],
    ['bad percent-encoding', '%E0%A4%A', 'unparsable_certificate']
  ] as const) {
    const response = await post(server.url, addCall, { 'client-cert': value })
    t.equal(response.status, 401, label)
    t.ok(warnings(server, reason).length > 0, `${label}: warned as ${reason}`)
  }
  const expired = await pki.issue({ subject: { CN: 'build-bot', O: 'Acme' }, notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) })
  t.equal((await post(server.url, addCall, { 'client-cert': expired.rfc9440 })).status, 401, 'a forwarded certificate past its validity')
  t.equal(warnings(server, 'certificate_expired').length, 1)
  t.notOk(server.logs.text.includes(agent7.rfc9440.slice(1, 40)), 'the forwarded certificate is not logged')
})

t.test('a forwarded certificate from anyone but the proxy is refused and logged, whatever X-Forwarded-For says', async (t) => {
  const server = await listen(forwardedConfig(['10.0.0.0/8']))
  t.teardown(server.close)
  const spoofed = await post(server.url, addCall, { 'client-cert': agent7.rfc9440, 'x-forwarded-for': '10.1.2.3' })
  t.equal(spoofed.status, 401)
  t.equal(spoofed.headers.get('www-authenticate'), 'ClientCertificate realm="mcp"')
  t.equal(warnings(server, 'untrusted_peer').length, 1)
})

t.test('the options and their TLS settings are checked when the config is read', async (t) => {
  const dir = t.testdir({})
  const tls = pki.tlsFiles(dir)
  t.throws(() => testConfig({ auth: { strategy: 'mtls', mtls: { clients } } }),
    { message: /auth\.strategy: strategy mtls reads client certificates from the TLS handshake as configured: set server\.tls \(certFile, keyFile and caFile/ }, 'no CA and no proxy: nothing could deliver a certificate')
  t.throws(() => testConfig({ server: { tls }, auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } } }),
    { message: /server\.tls\.caFile: client certificates would be requested but no chosen strategy checks them: choose jwt or mtls, or remove caFile/ })
  t.throws(() => testConfig({ server: { tls }, auth: { strategy: 'mtls', mtls: { clients: [{ id: 'x', fingerprint: pinned.fingerprint, san: 'DNS:x.test', permissions: [] }] } } }),
    { message: /auth\.mtls\.clients\[0\]: give exactly one of fingerprint, san, subject/ })
  t.throws(() => testConfig({ server: { tls }, auth: { strategy: 'mtls', mtls: { clients: [{ id: 'x', fingerprint: 'AB:CD', permissions: [] }] } } }),
    { message: /auth\.mtls\.clients\[0\]\.fingerprint: expected a SHA-256 fingerprint/ })
  t.throws(() => testConfig({ server: { tls }, auth: { strategy: 'mtls', mtls: { clients: [{ id: 'x', san: 'spiffe://x', permissions: [] }] } } }),
    { message: /auth\.mtls\.clients\[0\]\.san: expected TYPE:value/ })
  t.throws(() => testConfig({ server: { tls: { ...tls, caFile: `${dir}/missing.pem` } }, auth: { strategy: 'mtls', mtls: { clients } } }),
    { message: /server\.tls\.caFile: cannot read file/ })
  t.ok(testConfig({ server: { tls }, auth: { strategy: 'mtls', mtls: { clients } } }), 'with the CA: accepted')
})

t.test('config/mtls.yaml as a new user starts it: the certificates it names, a real client', async (t) => {
  const { loadConfigFile } = await import('../../deployment.js')
  const tls = pki.tlsFiles(t.testdir({}))
  const config = loadConfigFile(new URL('../../config/mtls.yaml', import.meta.url).pathname, {
    env: { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile, CLIENT_CA_FILE: tls.caFile, PORT: '0' }
  })
  const server = await listen(config)
  t.teardown(server.close)
  const agent = await pki.issue({ subject: { CN: 'agent-7' }, altNames: [{ type: 6, value: 'spiffe://example.org/agent/7' }] })
  const bot = await pki.issue({ subject: { CN: 'build-bot', O: 'Example' } })
  for (const [certificate, id] of [[agent, 'agent-7'], [bot, 'build-bot']] as const) {
    const { fetch, close: closeFetch } = pki.fetchWith(certificate)
    t.teardown(closeFetch)
    const { client, close } = await connect(server.url, {}, 'auto', fetch)
    t.teardown(close)
    t.equal(textOf(await callTool(client, 'add', { a: 20, b: 22 })), '42', id)
    t.match((await callTool(client, 'whoami', {})).structuredContent, { id, strategy: 'mtls' })
  }
})

t.test('a SAN value with a comma is one name: it cannot smuggle a second one past a rule', async (t) => {
  const server = await mutualTls(t, { strategy: 'mtls', mtls: { clients: [{ id: 'evil', san: 'DNS:evil.example', permissions: ['*'] }] } })
  const smuggler = await pki.issue({ subject: { CN: 'smuggler' }, altNames: [{ type: 6, value: 'urn:x:a, DNS:evil.example' }] })
  t.equal((await tlsPost(t, server, smuggler)).status, 401)
  const honest = await pki.issue({ subject: { CN: 'honest' }, altNames: [{ type: 6, value: 'urn:x:a' }, { type: 2, value: 'evil.example' }] })
  t.equal((await tlsPost(t, server, honest)).status, 200, 'the same name as a real DNS entry matches')
})
