import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { Worker } from 'node:worker_threads'
import { parse as parseYaml } from 'yaml'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { configFormat, configSchema, parseConfig } from '../../deployment.js'
import { createTokenSigner } from '../../plugins/auth/jwt-signer.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { addCall, callTool, connect, post, postModern } from '../helpers/client.js'
import { FAST_SCRYPT } from '../helpers/credentials.js'
import { onPath, whenAvailable } from '../helpers/external.js'
import { listen, testConfig } from '../helpers/server.js'
import { z } from 'zod'

// The documentation's examples are exercised here, so the README and docs/ cannot drift from the
// code: every check reads README.md and every page under docs/.
const root = fileURLToPath(new URL('../..', import.meta.url))
/** tap's TypeScript loader, and `fastify-mcp-auth` resolved to these sources rather than dist/. */
const LOADER = [...process.execArgv.filter((arg) => arg.includes('@tapjs/typescript')), '--import', fileURLToPath(new URL('../helpers/resolve-self.mjs', import.meta.url))]

function markdownUnder (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return markdownUnder(path)
    return name.endsWith('.md') ? [path] : []
  })
}

/** README.md and docs/**.md, by path relative to the repository root. */
const pages = new Map([join(root, 'README.md'), ...markdownUnder(join(root, 'docs'))]
  .map((path) => [relative(root, path), readFileSync(path, 'utf8')] as const))

/** The contents of every fenced block of `language` (fences at the start of a line), in every page. */
function blocks (language: string): string[] {
  const fence = new RegExp('^```' + language + '\\n([\\s\\S]*?)\\n```$', 'gm')
  return [...pages.values()].flatMap((text) => [...text.matchAll(fence)].map((m) => m[1] ?? ''))
}

t.test('the pages are there, and every fence starts a line (indented blocks would escape these checks)', async (t) => {
  t.ok(pages.size >= 15, `${pages.size} pages`)
  for (const [page, text] of pages) {
    const indented = text.split('\n').flatMap((line, index) => /^\s+```/.test(line) ? [`${page}:${index + 1}`] : [])
    t.same(indented, [], page)
  }
})

t.test('the README stays short', async (t) => {
  const lines = (pages.get('README.md') ?? '').replace(/\n$/, '').split('\n').length
  t.ok(lines <= 260, `README.md has ${lines} lines`)
})

t.test('every embedding example is in the documentation verbatim', async (t) => {
  const examples = readdirSync(`${root}/examples`).filter((name) => name.endsWith('.ts'))
  t.ok(examples.length >= 5)
  for (const name of examples) {
    const code = readFileSync(`${root}/examples/${name}`, 'utf8').trimEnd()
    const block = `<!-- example: examples/${name} -->\n\`\`\`ts\n${code}\n\`\`\``
    t.ok([...pages.values()].some((text) => text.includes(block)), name)
  }
})

/** Runs a program with PORT=0 and resolves with its base URL once it logs that it listens. */
async function runProgram (t: Test, args: readonly string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, args, {
    cwd: root,
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
    child.on('exit', (code) => reject(new Error(`${args.at(-1)?.slice(0, 60) ?? ''} exited with ${code}: ${output}`)))
  })
}

async function runExample (t: Test, name: string, env: Record<string, string>): Promise<string> {
  return await runProgram(t, [...LOADER, `${root}/examples/${name}`], env)
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

/** The `<!-- snippet: NAME -->` ts block: documentation code that is not an example file. */
function snippet (name: string): string {
  const fence = new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\``)
  for (const text of pages.values()) {
    const found = fence.exec(text)?.[1]
    if (found !== undefined) return found
  }
  throw new Error(`no snippet ${name} in the documentation`)
}

/**
 * Type-checks `code` as if it were a file of this package (importing `fastify-mcp-auth` gets its
 * sources, through tsconfig's paths), in a worker thread: it takes seconds of CPU, which then
 * overlap the other tests.
 */
function typeErrors (code: string): Promise<string[]> {
  const worker = new Worker(`
    const { parentPort, workerData: { typescript, root, code } } = require('node:worker_threads')
    const { join } = require('node:path')
    const ts = require(typescript)
    const { config } = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path))
    const options = { ...ts.parseJsonConfigFileContent(config, ts.sys, root).options, noEmit: true }
    const file = join(root, 'docs', 'snippet.ts') // never written: the compiler host serves it from memory
    const host = ts.createCompilerHost(options)
    const { getSourceFile, fileExists, readFile } = host
    host.getSourceFile = (name, language, ...rest) => name === file ? ts.createSourceFile(name, code, language) : getSourceFile.call(host, name, language, ...rest)
    host.fileExists = (name) => name === file || fileExists.call(host, name)
    host.readFile = (name) => name === file ? code : readFile.call(host, name)
    const program = ts.createProgram([file], options, host)
    const source = program.getSourceFile(file)
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
    parentPort.postMessage(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\\n')))
  `, { eval: true, execArgv: [], workerData: { typescript: createRequire(import.meta.url).resolve('typescript'), root, code } })
  return new Promise((resolve, reject) => {
    worker.once('message', (errors: string[]) => { resolve(errors); void worker.terminate() })
    worker.once('error', reject)
  })
}

const customAuthenticator = snippet('custom-authenticator')
const customAuthenticatorTypeErrors = typeErrors(customAuthenticator)

t.test('the custom authenticator in docs/embedding.md type-checks, runs, and authenticates', async (t) => {
  const code = customAuthenticator
  t.same(await customAuthenticatorTypeErrors, [], 'no type errors')
  // Run from the root, with `fastify-mcp-auth` resolved to these sources.
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
  const session = 'session-token-0123456789abcdefghijk'
  const url = await runProgram(t, [...LOADER, '--input-type=module', '--eval', js], { SESSION_TOKEN: session })
  t.match(await (await post(`${url}/mcp`, addCall, { 'x-session': session })).json(), { result: { structuredContent: { result: 8 } } }, 'its session is accepted')
  const missing = await post(`${url}/mcp`, addCall)
  t.equal(missing.status, 401)
  t.equal(missing.headers.get('www-authenticate'), 'Session realm="mcp"', 'its challenge')
  t.match(await missing.json(), { code: 'MCP_AUTH_MISSING_CREDENTIALS' })
  t.match(await (await post(`${url}/mcp`, addCall, { 'x-session': 'not-a-session' })).json(), { code: 'MCP_AUTH_INVALID_CREDENTIALS' })
})

t.test('every JSON block parses; the client setups open the server with their URL and headers', async (t) => {
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
  let interactive = 0
  for (const config of parsed) {
    for (const entry of Object.values(config.mcpServers ?? config.servers ?? {})) {
      let url: string | undefined
      let headers: Record<string, string> = {}
      // mcp-remote with no header signs in interactively (test/oauth covers that flow): only its URL is checked here.
      if (Array.isArray(entry.args) && entry.args[0] === 'mcp-remote' && entry.args.length === 2) {
        t.equal(entry.args[1], 'http://127.0.0.1:3000/mcp', 'interactive login: documented for the default address')
        interactive++
        continue
      }
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
  t.equal(checked, 4, 'the README\'s mcp.json, and Kiro/Cursor, VS Code and Claude Desktop in docs/client-setups.md')
  t.equal(interactive, 2, 'Claude Desktop with interactive login in docs/oauth-and-tokens.md and docs/client-setups.md (test/oauth/browser-login.test.ts runs the latter with mcp-remote and Chromium)')

  const stdioEntry = parsed.map((config) => config.mcpServers?.calculator).find((entry) => Array.isArray(entry?.args) && (entry.args as string[]).includes('stdio'))
  if (stdioEntry === undefined) throw new Error('no stdio client setup in the documentation')
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
  const env = { REPORTING_SECRET_HASH: await hashPassword('the client secret', FAST_SCRYPT), REDIS_URL: 'redis://127.0.0.1:6379', MCP_BEARER_TOKEN: 'b'.repeat(20), METRICS_KEY: 'metrics-key-0123456789abcdef', CALCULATOR_API_KEY: 'k'.repeat(20), JWT_SECRET: 'j'.repeat(40), LOGIN_PASSWORD_HASH: await hashPassword('a login passphrase', FAST_SCRYPT), INTROSPECTION_CLIENT_SECRET: 'introspection-client-secret' }
  const yamlBlocks = blocks('yaml')
  t.ok(yamlBlocks.length >= 5, `${yamlBlocks.length} YAML blocks`)
  for (const text of yamlBlocks) {
    const doc = parseYaml(text) as Record<string, unknown>
    // Files named in examples need not exist here: any readable file stands in (only access is checked).
    const tls = (doc.server as { tls?: Record<string, unknown> } | undefined)?.tls
    for (const field of ['certFile', 'keyFile', 'caFile']) if (tls?.[field] !== undefined) tls[field] = fileURLToPath(import.meta.url)
    t.doesNotThrow(() => parseConfig({ ...base, ...doc }, { env }), text.split('\n')[0] ?? '')
  }
})

t.test('the audit log example lines are JSON lines with the documented fields', async (t) => {
  const lines = blocks('jsonl').flatMap((text) => text.split('\n')).map((line) => JSON.parse(line) as Record<string, unknown>)
  t.ok(lines.length >= 3)
  for (const line of lines) t.match(line, { level: 30, event: /^(auth|tool)$/, ip: String, reqId: String, userAgent: String, msg: String })
})

whenAvailable(t, 'curl', onPath('curl') && onPath('bash'), 'the token-endpoint curl flow runs as written',
  'install curl and bash (Debian: apt-get install curl), then run test/readme/readme.test.ts', async (t) => {
    const block = blocks('sh').find((text) => text.includes('# 1. get a token pair'))
    if (block === undefined) throw new Error('no token flow in the documentation')
    const env = { JWT_SECRET: 'readme-flow-secret-0123456789abcdefghijklmn', REPORTING_SECRET_HASH: await hashPassword('the client secret', FAST_SCRYPT), PORT: '0' }
    const { loadConfigFile } = await import('../../deployment.js')
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

/** The text of a page without its fenced blocks and inline code, where links and headings live. */
function prose (text: string): string {
  return text.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()]/g, ' '))
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors (text: string): Set<string> {
  const seen = new Map<string, number>()
  const found = new Set<string>()
  for (const [, heading] of text.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = (heading ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    found.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return found
}

t.test('every relative link points to a file that exists, and to a heading that exists', async (t) => {
  let checked = 0
  for (const [page, text] of pages) {
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (target === undefined || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const [path = '', anchor] = target.split('#')
      const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), path)
      checked++
      if (!existsSync(file)) {
        t.fail(`${page}: ${target}: no such file`)
        continue
      }
      if (anchor !== undefined && file.endsWith('.md')) {
        t.ok(anchors(readFileSync(file, 'utf8')).has(anchor), `${page}: ${target}`)
      }
    }
  }
  t.ok(checked >= 100, `${checked} links checked`)
})

t.test('every page is linked from the README', async (t) => {
  const readme = prose(pages.get('README.md') ?? '')
  for (const page of pages.keys()) {
    if (page !== 'README.md') t.ok(readme.includes(`](${page})`), page)
  }
})

// The settings table of docs/configuration.md against the config schema, in both directions.

/** The config schema as JSON Schema (zod's public export): what a config file may say. */
interface JsonSchemaNode { type?: string, properties?: Record<string, JsonSchemaNode>, items?: JsonSchemaNode, anyOf?: JsonSchemaNode[], oneOf?: JsonSchemaNode[], not?: unknown }
/** Where `*File` secrets are resolved. */
const SECRET_SECTIONS = configFormat.secretSections

/** A field accepted only to be refused with a message (`password`, `secret`): z.never() is `{ not: {} }`. */
function refusedOnly (node: JsonSchemaNode): boolean {
  return node.not !== undefined
}

/** Every setting the schema accepts, by path (`auth.apiKey.keys[].id`), with whether it holds settings of its own. */
function settingsOf (node: JsonSchemaNode, path = '', out = new Map<string, 'section' | 'value'>()): Map<string, 'section' | 'value'> {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (refusedOnly(child)) continue
    const childPath = path === '' ? name : `${path}.${name}`
    out.set(childPath, child.properties !== undefined ? 'section' : 'value')
    settingsOf(child, childPath, out)
  }
  if (node.items !== undefined) settingsOf(node.items, `${path}[]`, out)
  for (const option of [...(node.anyOf ?? []), ...(node.oneOf ?? [])]) settingsOf(option, path, out)
  return out
}

/** The settings named in the first column of the table under "## Every setting". */
function documentedSettings (): string[] {
  const text = pages.get(join('docs', 'configuration.md')) ?? ''
  const table = text.slice(text.indexOf('## Every setting'))
  const names: string[] = []
  for (const [, cell] of table.matchAll(/^\|\s*(`.*?)\s*(?<!\\)\|/gm)) {
    const [first, ...siblings] = [...(cell ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '')
    if (first === undefined) continue
    const parent = first.slice(0, first.lastIndexOf('.'))
    for (const name of [first, ...siblings]) names.push((name.includes('.') ? name : `${parent}.${name}`).replace(/\[\]$/, ''))
  }
  return names
}

t.test('the settings table lists exactly the settings the config schema accepts', async (t) => {
  const accepted = settingsOf(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode)
  const secretFile = (path: string): boolean => {
    const field = path.slice(path.lastIndexOf('.') + 1)
    return SECRET_SECTIONS.includes(path.split('.')[0] ?? '') && configFormat.secretFields.includes(field) && accepted.has(path)
  }
  const documented = documentedSettings()
  t.ok(documented.length >= 100, `${documented.length} settings documented`)
  t.same(documented.filter((name, index) => documented.indexOf(name) !== index), [], 'each setting is listed once')
  t.same(documented.filter((name) => !accepted.has(name) && !(name.endsWith('File') && secretFile(name.slice(0, -'File'.length)))), [],
    'every documented setting is one the schema accepts (or the file form of a secret)')
  const required = [...accepted].filter(([, kind]) => kind === 'value').map(([path]) => path)
  t.same(required.filter((path) => !documented.includes(path)), [], 'every setting the schema accepts is documented')
  t.same(required.filter((path) => secretFile(path) && !documented.includes(`${path}File`)), [], 'every secret\'s file form is documented')
})
