import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { browserTest, logInAndConsent } from '../helpers/browser.js'
import { DocumentServer } from '../helpers/document-server.js'
import { ADA, loginConfig } from '../helpers/login.js'
import { startMcpRemote } from '../helpers/mcp-remote.js'
import { freePort } from '../helpers/ports.js'
import { listen } from '../helpers/server.js'

// A real client that names itself by a Client ID Metadata Document: mcp-remote with
// --client-metadata-url registers nothing; the server fetches the document (over https, from the
// test's own server, which allowPrivateNetworks and caFile admit) and Chromium signs in.

const CALLBACK = /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/

browserTest(t, 'mcp-remote-client with a client ID metadata document: no registration, browser login, tools listed', async (t, browser) => {
  const documents = await DocumentServer.start(mkdtempSync(join(tmpdir(), 'cimd-browser-')))
  t.teardown(async () => { await documents.close() })
  const documentUrl = documents.publish('/mcp-remote/client.json', (url) => ({
    client_id: url,
    client_name: 'Remote Calculator',
    // A loopback redirect URI matches whatever port mcp-remote's callback server gets (RFC 8252).
    redirect_uris: ['http://127.0.0.1/oauth/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none'
  }))
  const port = await freePort()
  const server = await listen(loginConfig(port, { dynamicRegistration: false, login: { clientMetadataDocuments: { allowPrivateNetworks: ['127.0.0.1/32'], caFile: documents.caFile } } }))
  t.teardown(async () => { await server.close() })

  const remote = startMcpRemote('client', server.url.href, ['--client-metadata-url', documentUrl])
  t.teardown(remote.stop)
  const authorizeUrl = await remote.authorizeUrl()
  t.equal(new URL(authorizeUrl).searchParams.get('client_id'), documentUrl, 'the client_id is the document URL')

  const page = await browser.newPage()
  const { callbackUrl } = await logInAndConsent(page, authorizeUrl, {
    ...ADA,
    callback: CALLBACK,
    onPage: async (page, which) => {
      if (which === 'consent') t.equal(await page.locator('h1').textContent(), `Allow Remote Calculator (${new URL(documentUrl).host}) to use your account?`, 'the consent page names the client and its publisher')
    }
  })
  t.match(Object.fromEntries(callbackUrl.searchParams), { code: /\S/, iss: server.url.origin })
  await remote.waitForLog(/Connected successfully!/)
  const tools = await remote.waitForLog(/Tools: (\{[\s\S]*?\n\})/)
  const listed = (JSON.parse(tools[1] ?? '{}') as { tools?: Array<{ name: string }> }).tools?.map((tool) => tool.name) ?? []
  t.ok(listed.includes('add'), `tools listed: ${listed.join(', ')}`)
  t.equal(await remote.exited, 0, 'mcp-remote-client exits 0')
  t.equal(documents.hits('/mcp-remote/client.json'), 1, 'the server fetched the document once')
  t.notOk(server.logs.records().some((line) => line.event === 'client_registration'), 'nothing registered')
})
