import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { parseConfig } from '../../config/load.js'
import { createTokenSigner } from '../../plugins/auth/jwt-signer.js'
import { hashPassword } from '../../plugins/auth/password-hash.js'
import { addCall, callTool, connect, post, postModern } from '../helpers/client.js'
import { FAST_SCRYPT } from '../helpers/credentials.js'
import { listen, testConfig } from '../helpers/server.js'

// The README's examples are exercised here, so the documentation cannot drift from the code.
const root = fileURLToPath(new URL('../..', import.meta.url))
const readme = readFileSync(`${root}/README.md`, 'utf8')
const LOADER = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))

function blocks (language: string): string[] {
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)\\n```', 'g'))].map((m) => m[1] ?? '')
}

t.test('every embedding example is in the README verbatim', async (t) => {
  const examples = readdirSync(`${root}/examples`).filter((name) => name.endsWith('.ts'))
  t.ok(examples.length >= 5)
  for (const name of examples) {
    const code = readFileSync(`${root}/examples/${name}`, 'utf8').trimEnd()
    t.ok(readme.includes(`<!-- example: examples/${name} -->\n\`\`\`ts\n${code}\n\`\`\``), name)
  }
})

/** Runs an example with PORT=0 and resolves with its base URL once it logs that it listens. */
async function runExample (t: Test, name: string, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [...LOADER, `${root}/examples/${name}`], {
    env: { PATH: process.env.PATH, TS_NODE_TRANSPILE_ONLY: '1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { child.kill() })
  return await new Promise((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const found = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (found?.[1] !== undefined) resolve(found[1])
    })
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${output}`)))
  })
}

t.test('the embedding examples run and protect their routes', async (t) => {
  const key = 'example-api-key-0123456789abcdefghij'
  const apiKey = await runExample(t, 'api-key.ts', { CALCULATOR_API_KEY: key })
  t.equal((await fetch(`${apiKey}/`)).status, 200, 'api-key: the host route is public')
  t.equal((await post(`${apiKey}/tools/mcp`, addCall)).status, 401, 'api-key: the MCP route is not')
  t.match(await (await post(`${apiKey}/tools/mcp`, addCall, { 'x-api-key': key })).json(), { result: { structuredContent: { result: 8 } } })

  const token = 'example-bearer-0123456789abcdefghijk'
  const bearer = await runExample(t, 'bearer.ts', { MCP_BEARER_TOKEN: token })
  t.equal((await post(`${bearer}/mcp`, addCall, { authorization: `Bearer ${token}` })).status, 200, 'bearer')

  const basic = await runExample(t, 'basic.ts', { ALICE_PASSWORD_HASH: await hashPassword('example password', FAST_SCRYPT) })
  const { client, close } = await connect(new URL(`${basic}/mcp`), { authorization: 'Basic ' + Buffer.from('alice:example password').toString('base64') })
  t.teardown(close)
  t.same((await callTool(client, 'whoami', {})).structuredContent, { id: 'alice', strategy: 'basic', permissions: ['calculator:add', 'calculator:whoami'] }, 'basic, stateful')

  const jwt = await runExample(t, 'jwt.ts', { OIDC_ISSUER: 'https://auth.example.com', OIDC_JWKS_URL: 'http://127.0.0.1:9/jwks' })
  const challenge = (await post(`${jwt}/mcp`, addCall)).headers.get('www-authenticate')
  t.equal(challenge, 'Bearer realm="mcp", resource_metadata="https://calc.example.com/.well-known/oauth-protected-resource/mcp", scope="calculator:add"', 'jwt: the RFC 9728 challenge')

  const secret = 'example-jwt-secret-0123456789abcdefghijklmn'
  const notes = await runExample(t, 'custom-server.ts', { JWT_SECRET: secret })
  const noteToken = createTokenSigner({ secret, issuer: 'https://notes.example.com' })({ sub: 'ada', permissions: ['notes:*'], ttl: 60_000 }).token
  const note = await post(`${notes}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add-note', arguments: { text: 'hi' } } }, { authorization: `Bearer ${noteToken}` })
  t.match(await note.json(), { result: { content: [{ text: '1 notes' }] } }, 'a custom MCP server')
  const modernNote = await postModern(`${notes}/mcp`, 'tools/call', { name: 'add-note', arguments: { text: 'hi' } }, { authorization: `Bearer ${noteToken}` })
  t.match(await modernNote.json(), { result: { content: [{ text: '1 notes' }] } }, 'a custom MCP server, to a 2026-07-28 client (its own server for that era)')
})

t.test('client setups: every JSON block parses, and its URL and headers open the server', async (t) => {
  const parsed = blocks('json').map((text) => JSON.parse(text) as Record<string, Record<string, Record<string, unknown>>>)
  t.ok(parsed.length >= 5, `${parsed.length} JSON blocks`)
  const key = 'client-setup-key-0123456789abcdefghi'
  const token = 'client-setup-token-0123456789abcdefg'
  const servers = {
    apiKey: await listen(testConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key, permissions: ['*'] }] } } })),
    bearer: await listen(testConfig({ auth: { strategy: 'bearer', bearer: { tokens: [{ id: 't', token, permissions: ['*'] }] } } })),
    basic: await listen(testConfig({ auth: { strategy: 'basic', basic: { users: [{ username: 'alice', passwordHash: await hashPassword('password', FAST_SCRYPT), permissions: ['*'] }] } } }))
  }
  t.teardown(async () => { for (const server of Object.values(servers)) await server.close() })
  const fill = (value: string): string => value.replace('<your key>', key).replace('<your token>', token).replace('<base64 of alice:password>', Buffer.from('alice:password').toString('base64'))

  let checked = 0
  for (const config of parsed) {
    for (const entry of Object.values(config.mcpServers ?? config.servers ?? {})) {
      let url: string | undefined
      let headers: Record<string, string> = {}
      if (typeof entry.url === 'string') {
        url = entry.url
        headers = Object.fromEntries(Object.entries((entry.headers ?? {}) as Record<string, string>).map(([name, value]) => [name, fill(value)]))
      } else if (Array.isArray(entry.args) && entry.args[0] === 'mcp-remote') {
        url = String(entry.args[1])
        const [name, value] = String(entry.args[3]).split(':') as [string, string]
        const env = (entry.env ?? {}) as Record<string, string>
        headers = { [name]: fill(value.replace(/\$\{(\w+)\}/, (_m, variable: string) => env[variable] ?? '')) }
      }
      if (url === undefined) continue
      const target = headers['x-api-key'] !== undefined ? servers.apiKey : /^Basic /.test(headers.Authorization ?? '') ? servers.basic : servers.bearer
      t.equal(url, 'http://127.0.0.1:3000/mcp', 'documented for the default address')
      const { client, close } = await connect(target.url, headers)
      t.equal(((await callTool(client, 'add', { a: 5, b: 3 })).structuredContent as { result?: unknown } | undefined)?.result, 8, `${JSON.stringify(headers).slice(0, 40)}…`)
      await close()
      checked++
    }
  }
  t.equal(checked, 4, 'Kiro/Cursor, VS Code, Claude Desktop, and the banner-style entry')

  const stdioEntry = parsed.map((config) => config.mcpServers?.calculator).find((entry) => Array.isArray(entry?.args) && (entry.args as string[]).includes('stdio'))
  if (stdioEntry === undefined) throw new Error('no stdio client setup in the README')
  const env = Object.fromEntries(Object.entries(stdioEntry.env as Record<string, string>).map(([name, value]) => [name, fill(value)]))
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...LOADER, `${root}/bin/fastify-mcp-auth.ts`, ...(stdioEntry.args as string[]).slice(1)],
    env: { PATH: process.env.PATH ?? '', TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stderr: 'pipe'
  })
  const client = new Client({ name: 'readme-stdio', version: '0' })
  await client.connect(transport)
  t.same((await client.callTool({ name: 'add', arguments: { a: 5, b: 3 } }) as CallToolResult).structuredContent, { result: 8 }, 'the stdio setup')
  await client.close()
})

t.test('every YAML block is a valid config, or a valid part of one', async (t) => {
  const base = { auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: 'yaml-block-key-0123456789abcdefgh', permissions: ['*'] }] } } }
  const env = { REDIS_URL: 'redis://127.0.0.1:6379', METRICS_KEY: 'metrics-key-0123456789abcdef', CALCULATOR_API_KEY: 'k'.repeat(20), JWT_SECRET: 'j'.repeat(40) }
  const yamlBlocks = blocks('yaml')
  t.ok(yamlBlocks.length >= 5, `${yamlBlocks.length} YAML blocks`)
  for (const text of yamlBlocks) {
    const doc = parseYaml(text) as Record<string, unknown>
    // Files named in examples need not exist here.
    const server = doc.server as Record<string, unknown> | undefined
    if (server?.tls !== undefined) delete server.tls
    t.doesNotThrow(() => parseConfig({ ...base, ...doc }, { env }), text.split('\n')[0] ?? '')
  }
})

t.test('the audit log example lines are JSON lines with the documented fields', async (t) => {
  const lines = blocks('jsonl').flatMap((text) => text.split('\n')).map((line) => JSON.parse(line) as Record<string, unknown>)
  t.ok(lines.length >= 3)
  for (const line of lines) t.match(line, { level: 30, event: /^(auth|tool)$/, ip: String, reqId: String, userAgent: String, msg: String })
})

t.test('the token-endpoint curl flow runs as written', async (t) => {
  const block = blocks('sh').find((text) => text.includes('# 1. get a token pair'))
  if (block === undefined) throw new Error('no token flow in the README')
  const env = { JWT_SECRET: 'readme-flow-secret-0123456789abcdefghijklmn', REPORTING_SECRET_HASH: await hashPassword('the client secret', FAST_SCRYPT), PORT: '0' }
  const { loadConfigFile } = await import('../../config/load.js')
  const config = loadConfigFile(`${root}/config/jwt-issuer.yaml`, { env })
  const server = await listen({ ...config, logger: { level: 'warn' } })
  t.teardown(server.close)
  const steps = block.slice(block.indexOf('# 1. get a token pair')).replaceAll('http://127.0.0.1:3000', server.url.origin)
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', `${steps}\necho\necho "ACCESS=$ACCESS"`], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString() })
    child.on('exit', (code) => code === 0 ? resolve(text) : reject(new Error(`the flow exited with ${code}: ${text}`)))
  })
  t.match(output, /"token_type":"Bearer","expires_in":900,"refresh_token":"[A-Za-z0-9_-]+","scope":"calculator:add calculator:whoami"/, '1. a token pair')
  t.match(output, /"structuredContent":\{"result":8\}/, '2. the calculator answers')
  t.equal((output.match(/"access_token"/g) ?? []).length, 2, '3. the refresh returned a new pair')
  const access = /ACCESS=(\S+)/.exec(output)?.[1] ?? ''
  const after = await post(server.url, addCall, { authorization: `Bearer ${access}` })
  t.equal(after.status, 401, '4. the revoked token is refused')
  t.match(await after.json(), { message: 'token revoked' })
})
