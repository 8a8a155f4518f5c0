import t, { type Test } from 'tap'
import { X509Certificate, createHash } from 'node:crypto'
import { callTool, connect, CLIENT_GENERATIONS, textOf } from '../helpers/client.js'
import { TestPki, type Pems } from '../helpers/certificates.js'
import { FAST_SCRYPT, JWT_SECRET } from '../helpers/credentials.js'
import { listen, testConfig, type TestServer } from '../helpers/server.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'

// auth.jwt.issue.certificateBoundTokens (RFC 8705): the token endpoint binds each access token to
// the TLS client certificate its request came with, and the MCP endpoint accepts it only from that
// certificate.

const pki = await TestPki.create()
const agent = await pki.issue({ subject: { CN: 'agent' } })
const other = await pki.issue({ subject: { CN: 'other' } })
const CLIENT = { id: 'agent', secret: 'agent client secret 0123456789' }
const ISSUER = 'https://calc.test'
const thumbprint = (pems: Pems): string => createHash('sha256').update(new X509Certificate(pems.cert).raw).digest('base64url')

function boundConfig (dir: string, certificateBoundTokens = true, tls = true) {
  return async () => testConfig({
    ...(tls ? { server: { tls: pki.tlsFiles(dir) } } : {}),
    auth: {
      strategy: 'jwt',
      jwt: { secret: JWT_SECRET, issuer: ISSUER, issue: { certificateBoundTokens, clients: [{ id: CLIENT.id, secretHash: await hashPassword(CLIENT.secret, FAST_SCRYPT), permissions: ['calculator:*'] }] } }
    }
  })
}

async function started (t: Test): Promise<TestServer> {
  const server = await listen(await boundConfig(t.testdir({}))())
  t.teardown(server.close)
  return server
}

/** A token request over TLS, presenting `certificate` (or none). */
async function tokenRequest (t: Test, server: TestServer, certificate: Pems | undefined, form: Record<string, string>): Promise<{ status: number, body: Record<string, unknown> }> {
  const { fetch, close } = pki.fetchWith(certificate)
  t.teardown(close)
  const response = await fetch(new URL('/oauth/token', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${CLIENT.id}:${encodeURIComponent(CLIENT.secret)}`).toString('base64') },
    body: new URLSearchParams(form).toString()
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

function claimsOf (token: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

t.test('a token issued over mutual TLS names the certificate and works only from it, with real clients of both eras', async (t) => {
  const server = await started(t)
  const issued = await tokenRequest(t, server, agent, { grant_type: 'client_credentials' })
  t.equal(issued.status, 200)
  t.same(claimsOf(issued.body.access_token).cnf, { 'x5t#S256': thumbprint(agent) })
  for (const generation of CLIENT_GENERATIONS) {
    const { fetch, close: closeFetch } = pki.fetchWith(agent)
    const { client, close } = await connect(server.url, { authorization: `Bearer ${String(issued.body.access_token)}` }, generation, fetch)
    t.equal(textOf(await callTool(client, 'add', { a: 40, b: 2 })), '42', `${generation} client, from the bound certificate`)
    await close()
    await closeFetch()
  }
  const { fetch, close } = pki.fetchWith(other)
  t.teardown(close)
  await t.rejects(connect(server.url, { authorization: `Bearer ${String(issued.body.access_token)}` }, 'legacy', fetch), 'from another certificate of the same CA: refused')

  const refreshed = await tokenRequest(t, server, other, { grant_type: 'refresh_token', refresh_token: String(issued.body.refresh_token) })
  t.equal(refreshed.status, 200)
  t.same(claimsOf(refreshed.body.access_token).cnf, { 'x5t#S256': thumbprint(other) }, 'a refreshed token is bound to the certificate of the refresh request')
})

t.test('without a client certificate there is nothing to bind to: 400 invalid_request', async (t) => {
  const server = await started(t)
  const answer = await tokenRequest(t, server, undefined, { grant_type: 'client_credentials' })
  t.equal(answer.status, 400)
  t.match(answer.body, { error: 'invalid_request', error_description: /certificate-bound tokens \(RFC 8705\)/ })
})

t.test('both metadata documents say tokens are certificate-bound', async (t) => {
  const server = await started(t)
  const { fetch, close } = pki.fetchWith()
  t.teardown(close)
  const as = await (await fetch(new URL('/.well-known/oauth-authorization-server', server.url))).json() as Record<string, unknown>
  t.equal(as.tls_client_certificate_bound_access_tokens, true)
  const prm = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', server.url))).json() as Record<string, unknown>
  t.equal(prm.tls_client_certificate_bound_access_tokens, true)
})

t.test('the option needs the CA that asks for certificates', async (t) => {
  await t.rejects(boundConfig(t.testdir({}), true, false)(), { message: /auth\.strategy: strategy jwt reads client certificates from the TLS handshake as configured: set server\.tls/ })
  t.ok(await boundConfig(t.testdir({}), false, false)(), 'without the option: no TLS needed')
})
