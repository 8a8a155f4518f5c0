import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))

// What a user gets from npm: pack the package, install the tarball in a scratch project outside
// this repository, and serve a custom MCP server behind jwt from it.
t.setTimeout(300_000)

t.test('the packed tarball installs in a scratch project and serves a custom MCP server behind auth', async (t) => {
  const dir = t.testdir({ pack: {}, scratch: {} })
  await run('npm', ['pack', '--pack-destination', join(dir, 'pack')], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
  const tarball = readdirSync(join(dir, 'pack')).find((name) => name.endsWith('.tgz'))
  if (tarball === undefined) throw new Error('npm pack made no tarball')
  const scratch = join(dir, 'scratch')
  const versions = (await import('../../package.json', { with: { type: 'json' } })).default.dependencies
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({
    name: 'scratch', private: true, type: 'module',
    dependencies: {
      'fastify-mcp-auth': `file:${join(dir, 'pack', tarball)}`,
      fastify: versions.fastify,
      '@modelcontextprotocol/sdk': versions['@modelcontextprotocol/sdk'],
      zod: versions.zod
    }
  }))
  writeFileSync(join(scratch, 'server.mjs'), `
import Fastify from 'fastify'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { z } from 'zod'
import { jwtAuth, mcpRoutes, createTokenSigner } from 'fastify-mcp-auth'

const jwt = { secret: 'scratch-secret-0123456789abcdefghijklmnop', issuer: 'https://scratch.test' }
const createServer = () => {
  const server = new McpServer({ name: 'echo', version: '1.0.0' })
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }, extra) =>
    ({ content: [{ type: 'text', text: text + ' / ' + extra.authInfo.clientId }] }))
  return server
}
const app = Fastify()
await app.register(async (scope) => {
  await scope.register(jwtAuth, jwt)
  await scope.register(mcpRoutes, { createServer, permissionPrefix: 'echo' })
})
await app.listen({ host: '127.0.0.1', port: 0 })
const url = 'http://127.0.0.1:' + app.server.address().port + '/mcp'
const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } }
const post = (headers) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(call) })
const token = createTokenSigner(jwt)({ sub: 'scratch-user', permissions: ['echo:*'], ttl: 60000 }).token
const without = await post({})
const withToken = await post({ authorization: 'Bearer ' + token })
console.log(JSON.stringify({ without: without.status, withToken: withToken.status, body: await withToken.json() }))
await app.close()
`)
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: scratch, maxBuffer: 16 * 1024 * 1024 })
  const { stdout } = await run(process.execPath, ['server.mjs'], { cwd: scratch, env: { PATH: process.env.PATH } })
  t.match(JSON.parse(stdout), {
    without: 401,
    withToken: 200,
    body: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi / scratch-user' }] } }
  })
  const help = await run(join(scratch, 'node_modules', '.bin', 'fastify-mcp-auth'), ['help'], { cwd: scratch })
  t.match(help.stdout, /Usage: fastify-mcp-auth <command>/, 'the bin works from the installed package')
})
