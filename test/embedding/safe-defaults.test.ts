import t from 'tap'
import { request as httpRequest } from 'node:http'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { apiKeyAuth, mcpRoutes, noneAuth } from '../../index.js'
import { addCall } from '../helpers/client.js'

// mcpRoutes embedded with its defaults is as safe as the CLI server: DNS-rebinding protection
// decided from the address the host app listens on, without configuration.
const KEY = 'safe-defaults-key-0123456789abcdefghi'

/** A POST with a Host header of our choosing (fetch does not allow setting it). */
async function rawPost (port: number, headers: Record<string, string>): Promise<number | undefined> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', reject)
    req.end(JSON.stringify(addCall))
  })
}

class Lines extends Writable {
  readonly lines: string[] = []
  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter((line) => line !== ''))
    callback()
  }
}

async function embedded (host: string, options: Record<string, unknown> = {}, strategy: 'none' | 'api-key' = 'none') {
  const logs = new Lines()
  const app = Fastify({ logger: { level: 'warn', stream: logs } })
  await app.register(async (scope) => {
    if (strategy === 'none') await scope.register(noneAuth)
    else await scope.register(apiKeyAuth, { keys: [{ id: 'k', key: KEY, permissions: ['*'] }] })
    await scope.register(mcpRoutes, options)
  })
  await app.listen({ host, port: 0 })
  const address = app.server.address()
  return { app, logs, port: typeof address === 'object' && address !== null ? address.port : 0 }
}

for (const strategy of ['none', 'api-key'] as const) {
  t.test(`${strategy} + mcpRoutes on 127.0.0.1 with default options: a foreign Host or Origin is refused`, async (t) => {
    const { app, port } = await embedded('127.0.0.1', {}, strategy)
    t.teardown(() => app.close())
    const credential: Record<string, string> = strategy === 'none' ? {} : { 'x-api-key': KEY }
    t.equal(await rawPost(port, { ...credential, host: 'evil.example.com' }), 403, 'DNS rebinding: the tool does not run')
    t.equal(await rawPost(port, { ...credential, host: `evil.example.com:${port}` }), 403, 'with the right port too')
    t.equal(await rawPost(port, { ...credential, host: `127.0.0.1:${port}`, origin: 'http://evil.example.com' }), 403, 'a foreign web page')
    t.equal(await rawPost(port, { ...credential, host: `localhost:${port}` }), 200, 'localhost passes')
    if (strategy === 'none') {
      t.equal(await rawPost(port, { ...credential, host: `127.0.0.1:${port}`, origin: 'http://localhost:6274' }), 403, 'with authentication off, not even a local page (any could drive every tool)')
    } else {
      t.equal(await rawPost(port, { ...credential, host: `127.0.0.1:${port}`, origin: 'http://localhost:6274' }), 200, 'a local tool such as the Inspector passes')
    }
  })
}

t.test('on a non-loopback address without allowedHosts or publicUrl: any Host, and a clear warning at start', async (t) => {
  const { app, logs, port } = await embedded('0.0.0.0', {}, 'api-key')
  t.teardown(() => app.close())
  t.ok(logs.lines.some((line) => /SECURITY: the MCP endpoint listens on a non-loopback address and accepts any Host header/.test(line)), 'the warning names the risk and the fix')
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'calc.example.com' }), 200)
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'calc.example.com', origin: 'http://evil.example.com' }), 403, 'foreign origins are still refused')
})

t.test('publicUrl names the one host clients use', async (t) => {
  const { app, logs, port } = await embedded('0.0.0.0', { publicUrl: 'https://calc.example.com' }, 'api-key')
  t.teardown(() => app.close())
  t.notOk(logs.lines.some((line) => /SECURITY/.test(line)), 'no warning')
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'calc.example.com' }), 200)
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'calc.example.com', origin: 'https://calc.example.com' }), 200)
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'evil.example.com' }), 403)
})

t.test('allowedHosts: ["*"] turns the Host check off on purpose, without a warning', async (t) => {
  const { app, logs, port } = await embedded('0.0.0.0', { allowedHosts: ['*'] }, 'api-key')
  t.teardown(() => app.close())
  t.notOk(logs.lines.some((line) => /SECURITY/.test(line)))
  t.equal(await rawPost(port, { 'x-api-key': KEY, host: 'anything.example' }), 200)
})
