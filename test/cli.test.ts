import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main } from '../bin/cli.js'
import { memoryIo } from './helpers/cli-io.js'
import { sha256 } from '../plugins/credentials/compare.js'
import type { RunningServer } from '../server.js'
import { addCall, callTool, connect, post } from './helpers/client.js'
import { runCli } from './helpers/spawn-cli.js'

const io = memoryIo

function running (result: number | RunningServer | 'serving'): RunningServer {
  if (typeof result !== 'object') throw new Error(`serve returned ${result}`)
  return result
}

t.test('gen-key prints a random key and its sha256', async (t) => {
  const first = io()
  t.equal(await main(['gen-key'], first), 0)
  const [key, digest] = first.out().trim().split('\n')
  t.match(key, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')
  t.equal(digest, sha256(key ?? '').toString('hex'))
  const second = io()
  await main(['gen-key'], second)
  t.not(second.out().split('\n')[0], key, 'a new key each time')
})

t.test('npm start without CALCULATOR_API_KEY: a generated key, printed once with client setups', async (t) => {
  const cli = io({ PORT: '0' })
  const server = running(await main(['serve'], cli))
  t.teardown(server.close)
  const printed = cli.out()
  const key = /generated API key[^\n]*\n\n {2}(\S+)\n/.exec(printed)?.[1] ?? ''
  t.match(key, /^[A-Za-z0-9_-]{43}$/)
  t.equal(printed.split(key).length - 1, 4, 'the key appears in the banner, the Inspector command, curl and mcp.json, and in no log line')
  t.match(printed, `npx @modelcontextprotocol/inspector --cli ${server.mcpUrl} --transport http --header "x-api-key: ${key}" --method tools/call --tool-name add --tool-arg a=5 --tool-arg b=3`)
  t.match(printed, `curl -s ${server.mcpUrl} `)
  t.match(printed, `"url": "${server.mcpUrl}"`)

  const { client, close } = await connect(new URL(server.mcpUrl), { 'x-api-key': key })
  t.teardown(close)
  t.same((await callTool(client, 'add', { a: 5, b: 3 })).structuredContent, { result: 8 }, 'add 5 3 = 8 with the printed key')
  t.equal((await post(server.mcpUrl, addCall)).status, 401, 'without the header: 401')
})

t.test('serve with CALCULATOR_API_KEY set prints no key', async (t) => {
  const key = 'env-provided-key-0123456789abcdefghij'
  const cli = io({ CALCULATOR_API_KEY: key })
  const server = running(await main(['serve', '--port', '0', '--host', '127.0.0.1'], cli))
  t.teardown(server.close)
  t.notMatch(cli.out(), /generated API key/)
  t.notOk(cli.out().includes(key), 'the key is in no output')
  t.match(cli.out(), /"msg":"Server listening at http:\/\/127\.0\.0\.1:\d+"/, 'logs go to stdout')
  t.equal((await post(server.mcpUrl, addCall, { 'x-api-key': key })).status, 200)
})

t.test('check-config validates without starting', async (t) => {
  const dir = t.testdir({
    'good.yaml': 'auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: a, key: "${K}", permissions: ["*"] }\n',
    'bad.yaml': 'server: { port: -1 }\nauth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: a, key: "${K}", permissions: ["*"] }\n'
  })
  const good = io({ K: 'check-config-key-0123456789abcdef' })
  t.equal(await main(['check-config', join(dir, 'good.yaml')], good), 0)
  t.match(good.out(), /good\.yaml: ok \(strategy api-key, stateless sessions, 127\.0\.0\.1:3000\/mcp\)/)

  const bad = io({})
  t.equal(await main(['check-config', join(dir, 'bad.yaml')], bad), 2)
  t.match(bad.err(), /server\.port: /)
  t.match(bad.err(), /auth\.apiKey\.keys\[0\]\.key: environment variable K is not set/)
})

t.test('usage errors exit 2 with the usage text', async (t) => {
  for (const argv of [[], ['frobnicate'], ['serve', '--port', 'http'], ['serve', '--bogus']]) {
    const cli = io()
    t.equal(await main(argv, cli), 2, argv.join(' '))
    t.match(cli.err(), /Usage: fastify-mcp-auth/)
  }
})

t.test('the real entry: a broken config stops start-up with exit 2, every problem, no stack trace', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'broken.yaml')
  writeFileSync(file, 'server: { port: 99999 }\nauth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: a, keyFile: /nonexistent/secret, permissions: ["*"] }\n      - { id: b, key: "${CALCULATOR_API_KEY}", permissions: ["*"] }\n')
  const run = await runCli(['serve', '--config', file])
  t.equal(run.code, 2)
  t.match(run.stderr, 'auth.apiKey.keys[1].key: environment variable CALCULATOR_API_KEY is not set')
  t.match(run.stderr, 'auth.apiKey.keys[0].keyFile: cannot read file /nonexistent/secret (ENOENT)')
  t.match(run.stderr, /server\.port: /)
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')

  const viaEnv = await runCli(['check-config'], { MCP_AUTH_CONFIG: file })
  t.equal(viaEnv.code, 2, 'MCP_AUTH_CONFIG picks the file')
  t.match(viaEnv.stderr, 'broken.yaml')
})

t.test('CALCULATOR_REQUIRE_AUTH=false npm start: no key needed, none printed, tools open on loopback', async (t) => {
  const cli = io({ CALCULATOR_REQUIRE_AUTH: 'false', PORT: '0' })
  const server = running(await main(['serve'], cli))
  t.teardown(server.close)
  t.notMatch(cli.out(), /generated API key/)
  t.match(cli.out(), /authentication is OFF/)
  t.equal((await post(server.mcpUrl, addCall)).status, 200)
})
