import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { FAST_SCRYPT } from '../helpers/credentials.js'
import { claimsOf, oauthPost } from '../helpers/issuing.js'
import { DocumentServer } from '../helpers/document-server.js'
import { CookieJar, driveLogin, loginConfig, MemoryOAuthProvider, REDIRECT_URI } from '../helpers/login.js'
import { authorizeUrl, loginPage, pkce } from '../helpers/pkce.js'
import { freePort } from '../helpers/ports.js'
import { listen, type TestServer } from '../helpers/server.js'

// Client ID Metadata Documents: a client_id that is an https URL, fetched by this server with
// SSRF protections, size and time limits, and a cache that never keeps a failure.

const documents = await DocumentServer.start(mkdtempSync(join(tmpdir(), 'cimd-')))
t.teardown(async () => { await documents.close() })

const validDocument = (url: string): Record<string, unknown> => ({
  client_id: url,
  client_name: 'Doc Client',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none'
})

/** A login server fetching documents from the test server (127.0.0.1 allowed, its certificate trusted). */
async function started (t: Test, cimd: Record<string, unknown> | false = {}, login: Record<string, unknown> = {}, clients: Array<Record<string, unknown>> = []): Promise<TestServer> {
  const port = await freePort()
  const clientMetadataDocuments = cimd === false ? false : { allowPrivateNetworks: ['127.0.0.1/32'], caFile: documents.caFile, ...cimd }
  const server = await listen(loginConfig(port, { login: { clientMetadataDocuments, ...login }, clients }))
  t.teardown(async () => { await server.close() })
  return server
}

/** GET /oauth/authorize for `clientId` as a client probing with Accept: application/json. */
async function authorizeJson (server: TestServer, clientId: string, overrides: Record<string, string> = {}): Promise<{ status: number, location: string | null, body: Record<string, unknown> }> {
  const response = await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: clientId, ...overrides }), { redirect: 'manual', headers: { accept: 'application/json' } })
  return { status: response.status, location: response.headers.get('location'), body: await response.json() as Record<string, unknown> }
}

class DocumentClientProvider extends MemoryOAuthProvider {
  constructor (readonly clientMetadataUrl: string) {
    super()
  }
}

t.test('RFC 8414 metadata says whether client ID metadata documents are supported', async (t) => {
  for (const [cimd, supported] of [[{}, true], [false, false]] as const) {
    const server = await started(t, cimd)
    const metadata = await (await fetch(`${server.url.origin}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>
    t.equal(metadata.client_id_metadata_document_supported, supported)
  }
})

t.test('the v2 SDK signs in with its document URL as client_id, bounded by the documents\' permissions', async (t) => {
  const path = '/sdk/client.json'
  const url = documents.publish(path, validDocument)
  const server = await started(t, { permissions: ['calculator:add'] })
  const provider = new DocumentClientProvider(url)
  const first = new Client({ name: 'cimd-test', version: '0.0.0' })
  await t.rejects(first.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider })), UnauthorizedError)
  const authorizationUrl = provider.authorizationUrl
  if (authorizationUrl === undefined) throw new Error('the SDK did not ask for an authorization')
  t.equal(authorizationUrl.searchParams.get('client_id'), url, 'the SDK chose the document over registration')
  const { html } = await loginPage(authorizationUrl, new CookieJar())
  t.match(html, `to continue to Doc Client (${new URL(url).host})`, 'the page names the client and the host that published it')
  const callback = await driveLogin(authorizationUrl)
  const transport = new StreamableHTTPClientTransport(server.url, { authProvider: provider })
  await transport.finishAuth(callback.searchParams)
  const client = new Client({ name: 'cimd-test', version: '0.0.0' })
  await client.connect(new StreamableHTTPClientTransport(server.url, { authProvider: provider }))
  t.teardown(async () => { await client.close() })
  t.same((await client.listTools()).tools.map((tool) => tool.name), ['add'], 'only what clientMetadataDocuments.permissions allows')
  t.match(await client.callTool({ name: 'add', arguments: { a: 5, b: 3 } }), { structuredContent: { result: 8 } })
  t.equal(claimsOf(provider.tokens()?.access_token).client_id, url, 'the token names the document URL as its client')
  t.equal(documents.hits(path), 1, 'fetched once for the page, the sign-in, the consent and the token exchange: cached')
})

t.test('Cache-Control no-store is respected: each use fetches again', async (t) => {
  const path = '/no-store/client.json'
  const url = documents.publish(path, validDocument, { 'cache-control': 'no-store' })
  const server = await started(t)
  for (let i = 0; i < 2; i++) t.equal((await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: url }))).status, 200)
  t.equal(documents.hits(path), 2)
})

t.test('a failure is never cached: a document fixed after a failed fetch works at once', async (t) => {
  const path = '/flaky/client.json'
  let healthy = false
  const url = documents.route(path, (_request, response) => {
    if (!healthy) { response.writeHead(503).end(); return }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(validDocument(documents.url(path))))
  })
  const server = await started(t)
  t.match(await authorizeJson(server, url), { status: 400, location: null, body: { error: 'invalid_client', error_description: "the client's metadata document answered HTTP 503" } })
  healthy = true
  t.equal((await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: url }))).status, 200)
  t.equal(documents.hits(path), 2)
})

t.test('documents on private or loopback addresses are refused without a connection', async (t) => {
  const path = '/private/client.json'
  documents.publish(path, validDocument)
  const server = await started(t, { allowPrivateNetworks: [] })
  const port = new URL(documents.origin).port
  for (const url of [
    `https://127.0.0.1:${port}${path}`,
    `https://localhost:${port}${path}`,
    `https://[::1]:${port}${path}`,
    'https://10.0.0.1/client.json',
    'https://169.254.169.254/latest/meta-data',
    'https://[::ffff:7f00:1]/client.json',
    'https://[::7f00:1]/client.json',
    'https://0.0.0.0/client.json'
  ]) {
    const answer = await authorizeJson(server, url)
    t.match(answer, { status: 400, location: null, body: { error: 'invalid_client', error_description: "the client's metadata document is on a private or loopback address, which this server does not fetch from" } }, url)
  }
  t.equal(documents.hits(path), 0, 'not one request reached the server')
  const logged = server.logs.records().filter((line) => line.event === 'client_metadata')
  t.equal(logged.length, 8, 'every refusal is logged')
  t.match(logged[1], { outcome: 'refused', host: `localhost:${port}`, reason: /private or loopback/ })
})

t.test('hostile documents are refused with 400 and say why', async (t) => {
  const big = 'x'.repeat(6000)
  const cases: Array<[string, (url: string) => string, RegExp | string]> = [
    ['oversized, with Content-Length', () => documents.publish('/big.json', (url) => ({ ...validDocument(url), padding: big })), 'is larger than 5120 bytes'],
    ['oversized, chunked', () => documents.route('/chunked.json', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"padding":"')
      for (let i = 0; i < 10; i++) response.write('y'.repeat(1000))
      response.end('"}')
    }), 'is larger than 5120 bytes'],
    ['a redirect', () => {
      const target = documents.publish('/redirect-target.json', validDocument)
      return documents.route('/redirect.json', (_request, response) => { response.writeHead(302, { location: target }).end() })
    }, 'redirects (HTTP 302), and redirects are not followed'],
    ['not found', () => documents.url('/missing.json'), 'answered HTTP 404'],
    ['not JSON', () => documents.route('/html.json', (_request, response) => { response.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>') }), 'is not JSON'],
    ['a client_id other than its URL', () => documents.publish('/other-id.json', () => validDocument(documents.url('/somebody-else.json'))), 'has a client_id other than its own URL'],
    ['a secret auth method', () => documents.publish('/secret-method.json', (url) => ({ ...validDocument(url), token_endpoint_auth_method: 'client_secret_basic' })), 'token_endpoint_auth_method must be none'],
    ['a client_secret', () => documents.publish('/secret.json', (url) => ({ ...validDocument(url), client_secret: 'shh' })), 'a public client has no client_secret'],
    ['no client_name', () => documents.publish('/no-name.json', (url) => ({ ...validDocument(url), client_name: undefined })), 'has no client_name'],
    ['an http redirect URI off loopback', () => documents.publish('/http-redirect.json', (url) => ({ ...validDocument(url), redirect_uris: ['http://evil.example/cb'] })), 'redirect_uris must be https URLs'],
    ['a JSON array', () => documents.publish('/array.json', () => [1]), 'has a client_id other than its own URL'],
    ['a bidi override in client_name', () => documents.publish('/bidi.json', (url) => ({ ...validDocument(url), client_name: 'Claude \u202e' })), 'client_name must not contain control or formatting characters']
  ]
  const server = await started(t)
  for (const [name, urlOf, reason] of cases) {
    const answer = await authorizeJson(server, urlOf(documents.url('/')))
    t.match(answer, { status: 400, location: null, body: { error: 'invalid_client', error_description: reason } }, name)
  }
  t.equal(documents.hits('/redirect-target.json'), 0, 'the redirect was not followed')
  const page = await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: documents.url('/big.json') }))
  t.equal(page.status, 400, 'a browser gets an error page')
  t.match(await page.text(), 'is larger than 5120 bytes')
})

t.test('client_id URLs the draft does not allow are refused before any fetch', async (t) => {
  const server = await started(t)
  const port = new URL(documents.origin).port
  const cases: Array<[string, string]> = [
    [`https://127.0.0.1:${port}/`, 'URL must have a path'],
    [`https://127.0.0.1:${port}/client.json?v=1`, 'URL must not have credentials, a query or a fragment'],
    [`https://user:pw@127.0.0.1:${port}/client.json`, 'URL must not have credentials, a query or a fragment'],
    [`https://127.0.0.1:${port}/a/../client.json`, 'URL is not in canonical form'],
    [`https://LOCALHOST:${port}/client.json`, 'URL is not in canonical form'],
    ['https://127.0.0.1:443/client.json', 'URL is not in canonical form'],
    ['https://exa mple.com/client.json', 'URL is not a valid URL']
  ]
  for (const [url, reason] of cases) t.match(await authorizeJson(server, url), { status: 400, body: { error: 'invalid_client', error_description: reason } }, url)
  t.match(await authorizeJson(server, `http://127.0.0.1:${port}/client.json`), { status: 400, body: { error: 'invalid_client', error_description: /unknown client_id/ } }, 'http is no document URL')
})

t.test('a slow document is cut off at the timeout', async (t) => {
  const held: Array<() => void> = []
  const silent = documents.route('/silent.json', (_request, response) => { held.push(() => response.destroy()) })
  const dripping = documents.route('/drip.json', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{')
    held.push(() => response.destroy())
  })
  t.teardown(() => { for (const release of held) release() })
  const server = await started(t, { timeout: '300ms' })
  for (const url of [silent, dripping]) {
    t.match(await authorizeJson(server, url), { status: 400, body: { error: 'invalid_client', error_description: "the client's metadata document did not arrive within 300 ms" } }, url)
  }
})

t.test('the redirect URI must be one the document lists', async (t) => {
  const url = documents.publish('/redirects/client.json', validDocument)
  const server = await started(t)
  const answer = await authorizeJson(server, url, { redirect_uri: 'http://127.0.0.1:9/elsewhere' })
  t.match(answer, { status: 400, location: null, body: { error: 'invalid_request', error_description: /redirect_uri/ } })
})

t.test('the token endpoint refuses a document client whose document is gone', async (t) => {
  const server = await started(t, { cacheTtl: 0 })
  const answer = await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'authorization_code', code: 'x', client_id: documents.url('/gone.json'), redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier })
  t.match(answer, { status: 401, body: { error: 'invalid_client', error_description: "the client's metadata document answered HTTP 404" } })
})

t.test('the authorization endpoint is limited per client address', async (t) => {
  const server = await started(t, false, { authorizeLimit: { max: 2, timeWindow: '1m' } })
  const statuses = []
  for (let i = 0; i < 3; i++) {
    const response = await fetch(authorizeUrl(server.url.origin, pkce().challenge))
    statuses.push(response.status)
    if (response.status === 429) t.ok(Number(response.headers.get('retry-after')) >= 1, 'with Retry-After')
  }
  t.same(statuses, [200, 200, 429])
  t.match(server.logs.records().filter((line) => line.event === 'rate_limit'), [{ limit: 'authorize', ip: '127.0.0.1' }], 'and audited')
})

t.test('token requests naming a document are limited per address too (each may make the server fetch)', async (t) => {
  const server = await started(t, {}, { authorizeLimit: { max: 2, timeWindow: '1m' } })
  const statuses = []
  for (let i = 0; i < 3; i++) {
    const answer = await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'authorization_code', code: 'x', client_id: documents.url(`/limited-${i}.json`), redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier })
    statuses.push(answer.status)
    if (answer.status === 429) t.match(answer.body, { error: 'temporarily_unavailable' })
  }
  t.same(statuses, [401, 401, 429])
  t.equal(documents.hits('/limited-2.json'), 0, 'the refused one fetched nothing')
  t.match(server.logs.records().filter((line) => line.event === 'rate_limit'), [{ limit: 'client_document' }])
})

t.test('a configured client whose id is an https URL is never looked up as a document', async (t) => {
  const path = '/configured/client'
  const server = await started(t, {}, {}, [{ id: documents.url(path), secretHash: await hashPassword('machine secret', FAST_SCRYPT), permissions: ['calculator:add'] }])
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(documents.url(path))}:${encodeURIComponent('machine secret')}`).toString('base64')}`
  const answer = await oauthPost(server.url.origin, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic })
  t.match(answer, { status: 200, body: { token_type: 'Bearer', scope: 'calculator:add' } })
  t.equal(documents.hits(path), 0)
})

t.test('no open redirector: a document client\'s request errors and prompt=none refusals are pages, not redirects', async (t) => {
  const url = documents.publish('/redirector/client.json', (id) => ({ ...validDocument(id), redirect_uris: ['https://evil.example/phish'] }))
  const server = await started(t)
  const requests: Array<Record<string, string>> = [{ response_type: 'token' }, { code_challenge_method: 'plain' }, { prompt: 'none' }, { prompt: 'none login' }]
  for (const overrides of requests) {
    const response = await fetch(authorizeUrl(server.url.origin, pkce().challenge, { client_id: url, redirect_uri: 'https://evil.example/phish', ...overrides }), { redirect: 'manual' })
    t.equal(response.status, 400, JSON.stringify(overrides))
    t.equal(response.headers.get('location'), null, 'no redirect to the URI the document chose')
  }
  const configured = await fetch(authorizeUrl(server.url.origin, pkce().challenge, { prompt: 'none' }), { redirect: 'manual' })
  t.equal(configured.status, 303, 'a configured client still hears login_required at its redirect URI')
  t.match(configured.headers.get('location'), /error=login_required/)
})
