import t, { type Test } from 'tap'
import { X509Certificate, createHash } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { callTool, connect, CLIENT_GENERATIONS, textOf } from '../helpers/client.js'
import { TestPki, type Pems } from '../helpers/certificates.js'
import { JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, jwtFor, jwtSection } from '../helpers/credentials.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'

// RFC 8705 certificate-bound access tokens: a token whose `cnf` names a certificate's SHA-256
// thumbprint is only good on a TLS connection that presented that certificate.

const pki = await TestPki.create()
const holder = await pki.issue({ subject: { CN: 'holder' } })
const other = await pki.issue({ subject: { CN: 'other' } })
const sign = createSigner({ key: JWT_SECRET, algorithm: 'HS256', iss: JWT_ISSUER, aud: JWT_AUDIENCE, expiresIn: 60_000 })
const thumbprint = (pems: Pems): string => createHash('sha256').update(new X509Certificate(pems.cert).raw).digest('base64url')
const boundTo = (cnf: unknown): string => sign({ sub: 'alice', permissions: ['calculator:*'], cnf })

async function tlsServer (t: Test): Promise<TestServer> {
  const server = await listen(testConfig({ server: { tls: pki.tlsFiles(t.testdir({})) }, auth: { strategy: 'jwt', jwt: jwtSection } }))
  t.teardown(server.close)
  return server
}

async function status (t: Test, server: TestServer, token: string, certificate?: Pems): Promise<{ status: number, challenge: string | null }> {
  const { fetch, close } = pki.fetchWith(certificate)
  t.teardown(close)
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } })
  })
  return { status: response.status, challenge: response.headers.get('www-authenticate') }
}

t.test('a bound token works from its certificate, with real clients of both eras', async (t) => {
  const server = await tlsServer(t)
  const token = boundTo({ 'x5t#S256': thumbprint(holder) })
  for (const generation of CLIENT_GENERATIONS) {
    const { fetch, close: closeFetch } = pki.fetchWith(holder)
    const { client, close } = await connect(server.url, { authorization: `Bearer ${token}` }, generation, fetch)
    t.equal(textOf(await callTool(client, 'add', { a: 2, b: 3 })), '5', `${generation} client`)
    await close()
    await closeFetch()
  }
})

t.test('a bound token is refused without its certificate: another one, none, or plain HTTP', async (t) => {
  const server = await tlsServer(t)
  const token = boundTo({ 'x5t#S256': thumbprint(holder) })
  for (const [label, certificate] of [['another certificate from the same CA', other], ['no certificate', undefined]] as const) {
    const answer = await status(t, server, token, certificate)
    t.equal(answer.status, 401, label)
    t.match(answer.challenge, /^Bearer realm="mcp", error="invalid_token"/, label)
  }
  t.equal((await status(t, server, boundTo({ jkt: 'a-dpop-key-thumbprint' }), holder)).status, 401, 'a confirmation method this server cannot check')
  t.equal((await status(t, server, boundTo('not an object'), holder)).status, 401, 'a cnf that is not an object')
  t.ok(server.logs.records().some((record) => record.code === 'MCP_AUTH_CERTIFICATE_MISMATCH'), 'the refusal says why at debug level')

  const plain = await listen(testConfig({ auth: { strategy: 'jwt', jwt: jwtSection }, logger: { level: 'warn' } }))
  t.teardown(plain.close)
  const response = await fetch(plain.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' })
  t.equal(response.status, 401, 'over plain HTTP there is no certificate to bind to')
})

t.test('unbound tokens are unaffected on the same TLS port, with or without a certificate', async (t) => {
  const server = await tlsServer(t)
  const token = jwtFor('bob', ['calculator:*'])
  t.equal((await status(t, server, token)).status, 200)
  t.equal((await status(t, server, token, holder)).status, 200)
})
