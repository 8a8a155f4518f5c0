import t from 'tap'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import { createNoneAuthenticator, noneAuth } from '../../plugins/auth/none.js'
import { mcpRoutes } from '../../routes/mcp.js'
import { addCall, callTool, connect, post } from '../helpers/client.js'
import { listen, testConfig } from '../helpers/server.js'

t.test('strategy none on loopback: anonymous principal, a warning at start', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'none' } }))
  t.teardown(server.close)
  for (const generation of ['legacy', 'modern'] as const) {
    const { client, close } = await connect(server.url, {}, generation)
    t.teardown(close)
    t.same((await callTool(client, 'add', { a: 5, b: 3 })).structuredContent, { result: 8 }, `${generation} client`)
  }
  const warning = server.logs.records().find((r) => r.level === 40)
  t.match(warning, { msg: /authentication is OFF/ })
})

t.test('CALCULATOR_REQUIRE_AUTH=false selects it over the file', async (t) => {
  const config = testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: 'unused-key-0123456789abcdef', permissions: [] }] } } },
    { CALCULATOR_REQUIRE_AUTH: 'false' })
  const server = await listen(config)
  t.teardown(server.close)
  const { client, close } = await connect(server.url)
  t.teardown(close)
  t.same((await callTool(client, 'sqrt', { x: 16 })).structuredContent, { result: 4 })
})

t.test('under none no web page may call the tools unless configured; no Origin is fine', async (t) => {
  const server = await listen(testConfig({ auth: { strategy: 'none' } }))
  t.teardown(server.close)
  t.equal((await post(server.url, addCall)).status, 200, 'a local client sends no Origin')
  for (const origin of ['http://localhost:6274', 'http://127.0.0.1:8080', 'http://evil.example']) {
    t.equal((await post(server.url, addCall, { origin })).status, 403, `${origin}: any local page could otherwise drive every tool`)
  }
  const configured = await listen(testConfig({ auth: { strategy: 'none' }, mcp: { allowedOrigins: ['http://localhost:6274'] } }))
  t.teardown(configured.close)
  t.equal((await post(configured.url, addCall, { origin: 'http://localhost:6274' })).status, 200, 'a configured origin passes')
  t.equal((await post(configured.url, addCall, { origin: 'http://localhost:6275' })).status, 403)
})

t.test('noneAuth embedded: a connection that did not arrive on loopback is refused, and listening wider is an error in the log', async (t) => {
  const authenticator = createNoneAuthenticator(undefined)
  const request = (localAddress: string) => ({ socket: { localAddress } }) as unknown as FastifyRequest
  t.match(authenticator.authenticate(request('127.0.0.1'), {} as FastifyReply), { ok: true, principal: { id: 'anonymous' } })
  t.match(authenticator.authenticate(request('::ffff:127.0.0.1'), {} as FastifyReply), { ok: true })
  t.throws(() => authenticator.authenticate(request('192.0.2.10'), {} as FastifyReply), { code: 'MCP_AUTH_NOT_LOOPBACK', statusCode: 403 })

  const lines: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  await app.register(async (scope) => {
    await scope.register(noneAuth)
    await scope.register(mcpRoutes)
  })
  await app.listen({ host: '0.0.0.0', port: 0 })
  t.teardown(() => app.close())
  t.match(lines.join(''), /SECURITY: authentication is off \(strategy none\) and the app listens on a non-loopback address/)
  const port = (app.server.address() as AddressInfo).port
  t.equal((await post(`http://127.0.0.1:${port}/mcp`, addCall)).status, 200, 'loopback connections are still served')
})
