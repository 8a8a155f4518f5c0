import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import selfsigned from 'selfsigned'
import { Agent, fetch as undiciFetch } from 'undici'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { listen, testConfig } from '../helpers/server.js'

const KEY = 'https-test-key-0123456789abcdefghij'

t.test('server.tls serves HTTPS; the SDK client connects over TLS', async (t) => {
  const dir = t.testdir({})
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048, notAfterDate: new Date(Date.now() + 86_400_000), extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }]
  })
  writeFileSync(join(dir, 'cert.pem'), pems.cert)
  writeFileSync(join(dir, 'key.pem'), pems.private)
  const server = await listen(testConfig({
    server: { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } },
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'tls', key: KEY, permissions: ['*'] }] } }
  }))
  t.teardown(server.close)
  t.match(server.mcpUrl, /^https:\/\/127\.0\.0\.1:\d+\/mcp$/)

  // Trust this certificate only, for this client.
  const dispatcher = new Agent({ connect: { ca: pems.cert } })
  t.teardown(() => dispatcher.close())
  const tlsFetch = (async (url: string | URL, init?: RequestInit) => await undiciFetch(url, { ...init, dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch
  const transport = new StreamableHTTPClientTransport(server.url, { fetch: tlsFetch, requestInit: { headers: { 'x-api-key': KEY } } })
  const client = new Client({ name: 'tls', version: '0' })
  await client.connect(transport)
  t.teardown(() => client.close())
  const result = await client.callTool({ name: 'add', arguments: { a: 5, b: 3 } }) as CallToolResult
  t.same(result.structuredContent, { result: 8 })

  await t.rejects(fetch(server.url, { method: 'POST' }), 'a client that does not trust the certificate cannot connect')
})

t.test('an unreadable certificate is a config problem, listed by path', async (t) => {
  const { parseConfig } = await import('../../deployment.js')
  let problems: unknown
  try {
    parseConfig({ server: { tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } }, auth: { strategy: 'none' } }, { env: {} })
  } catch (error) {
    problems = (error as { problems?: unknown }).problems
  }
  t.same(problems, [
    { path: 'server.tls.certFile', message: 'cannot read file /nonexistent/cert.pem (ENOENT)' },
    { path: 'server.tls.keyFile', message: 'cannot read file /nonexistent/key.pem (ENOENT)' }
  ])
})

t.test('plain HTTP on a non-loopback address without a trusted proxy gets a prominent warning', async (t) => {
  const { buildApp } = await import('../../app.js')
  const { LogCapture } = await import('../helpers/server.js')
  const { parseConfig } = await import('../../deployment.js')
  const logs = new LogCapture()
  const auth = { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] } }
  const app = await buildApp(parseConfig({ server: { host: '0.0.0.0' }, auth }, { env: {} }), { logStream: logs })
  await app.close()
  t.match(logs.records().find((r) => r.level === 40), { msg: /^SECURITY: serving plain HTTP on 0\.0\.0\.0/ })
  const quiet = new LogCapture()
  const behindProxy = await buildApp(parseConfig({ server: { host: '0.0.0.0', trustProxy: true }, auth }, { env: {} }), { logStream: quiet })
  await behindProxy.close()
  t.notOk(quiet.text.includes('SECURITY'), 'no warning behind a trusted proxy')
})
