import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const LEFT_OUT = new Set(['node_modules', 'dist', '.git', '.tap', 'coverage', 'results'])

// What a user gets from npm: pack the package, install the tarball in a scratch project outside
// this repository, and serve a custom MCP server behind jwt from it. The packing (whose `prepare`
// rebuilds dist/) happens in a copy of the sources: the tests never write to the working tree.
t.setTimeout(300_000)

t.test('the packed tarball installs in a scratch project and serves a custom MCP server behind auth', async (t) => {
  // Outside the repository: the copy of the sources cannot live inside what it copies.
  const dir = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-packed-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const sub of ['pack', 'scratch', 'source']) mkdirSync(join(dir, sub))
  const source = join(dir, 'source')
  cpSync(root, source, { recursive: true, filter: (path) => !LEFT_OUT.has(relative(root, path).split('/').pop() ?? '') })
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'))
  const packed = await run('npm', ['pack', '--json', '--pack-destination', join(dir, 'pack')], { cwd: source, maxBuffer: 16 * 1024 * 1024 })
  const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((file) => file.path) ?? []
  const unexpected = files.filter((path) => !/^(dist\/(?!bench\/).+\.(js|d\.ts)|config\/[^/]+\.yaml|docs\/.+\.(md|png)|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/.test(path))
  t.same(unexpected, [], `the package holds only what a user needs (${files.length} files: code, types, example configs, docs)`)
  t.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('LICENSE'), 'the entry point, its types and the licence are in it')
  t.ok((statSync(join(source, 'dist', 'bin', 'fastify-mcp-auth.js')).mode & 0o111) !== 0, 'the build leaves the command executable')
  // A shell's environment, not this test runner's (npm run / npx set npm_* variables that change what npx resolves).
  const shell = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')))
  const key = await run('npx', ['fastify-mcp-auth', 'gen-key'], { cwd: source, env: shell })
  t.match(key.stdout, /^[A-Za-z0-9_-]{43}\n[0-9a-f]{64}\n$/, 'npx fastify-mcp-auth works in a clone after a rebuild')
  const tarball = readdirSync(join(dir, 'pack')).find((name) => name.endsWith('.tgz'))
  if (tarball === undefined) throw new Error('npm pack made no tarball')
  const scratch = join(dir, 'scratch')
  const versions = (await import('../../package.json', { with: { type: 'json' } })).default.dependencies
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({
    name: 'scratch',
    private: true,
    type: 'module',
    dependencies: {
      'fastify-mcp-auth': `file:${join(dir, 'pack', tarball)}`,
      fastify: versions.fastify,
      '@modelcontextprotocol/server': versions['@modelcontextprotocol/server'],
      zod: versions.zod
    }
  }))
  writeFileSync(join(scratch, 'server.mjs'), `
import Fastify from 'fastify'
import { McpServer } from '@modelcontextprotocol/server'
import { z } from 'zod'
import { DUAL_ERA_PROTOCOL_VERSIONS, jwtAuth, mcpRoutes, createTokenSigner } from 'fastify-mcp-auth'

const jwt = { secret: 'scratch-secret-0123456789abcdefghijklmnop', issuer: 'https://scratch.test' }
const createServer = () => {
  const server = new McpServer({ name: 'echo', version: '1.0.0' }, { supportedProtocolVersions: [...DUAL_ERA_PROTOCOL_VERSIONS] })
  server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, async ({ text }, ctx) =>
    ({ content: [{ type: 'text', text: text + ' / ' + ctx.http.authInfo.clientId }] }))
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
const post = (headers, body = call) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
const token = createTokenSigner(jwt)({ sub: 'scratch-user', permissions: ['echo:*'], ttl: 60000 }).token
const without = await post({})
const withToken = await post({ authorization: 'Bearer ' + token })
// The same call from a 2026-07-28 client: the _meta envelope, and the headers that mirror it.
const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'scratch', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} }
const modern = await post(
  { authorization: 'Bearer ' + token, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo', accept: 'application/json, text/event-stream' },
  { ...call, params: { ...call.params, _meta: envelope } }
)
console.log(JSON.stringify({ without: without.status, withToken: withToken.status, body: await withToken.json(), modern: modern.status, modernBody: await modern.json() }))
await app.close()
`)
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: scratch, maxBuffer: 16 * 1024 * 1024 })
  const { stdout } = await run(process.execPath, ['server.mjs'], { cwd: scratch, env: { PATH: process.env.PATH } })
  t.match(JSON.parse(stdout), {
    without: 401,
    withToken: 200,
    body: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi / scratch-user' }] } },
    modern: 200,
    modernBody: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi / scratch-user' }], resultType: 'complete' } }
  })
  const help = await run(join(scratch, 'node_modules', '.bin', 'fastify-mcp-auth'), ['help'], { cwd: scratch })
  t.match(help.stdout, /Usage: fastify-mcp-auth <command>/, 'the bin works from the installed package')
})
