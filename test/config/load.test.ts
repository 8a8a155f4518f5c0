import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_CONFIG_FILE, configFileFrom } from '../../config/load.js'
import { loadConfigFile, parseConfig } from '../../deployment.js'
import { ConfigError } from '../../core/problems.js'
import { sha256 } from '../../plugins/credentials/compare.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'

const KEY = 'config-test-key-0123456789abcdefghij'
const AGENT_PUBLIC_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString().trimEnd()

function problemsOf (fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`)
    throw error
  }
  throw new Error('expected a ConfigError')
}

const apiKeyDoc = (key: unknown = '${CALCULATOR_API_KEY}') => ({
  auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'a', key, permissions: ['*'] }] } }
})

t.test('defaults fill everything but the auth section', async (t) => {
  const config = parseConfig(apiKeyDoc(), { env: { CALCULATOR_API_KEY: KEY } })
  t.match(config.server, { host: '127.0.0.1', port: 3000, trustProxy: false, bodyLimit: 1048576, maxHeaderSize: 16384, requestTimeout: 30000 })
  t.same(config.rateLimit, { timeWindow: 60000, tools: {}, failedAuth: { max: 10, timeWindow: 60000 } }, 'failed-auth throttling on by default, no per-principal limit')
  t.same(config.metrics.enabled, false, 'metrics off by default')
  t.same(config.audit, { enabled: true, includeArguments: false }, 'audit on by default')
  t.same(config.mcp, { path: '/mcp', sessions: 'stateless', sessionIdleTimeout: 600_000, maxSessions: 1000, maxSessionsPerPrincipal: 50, maxServers: 1000, maxBatchSize: 100, permissionPrefix: 'calculator', toolPermissions: {}, scopeHierarchy: {}, fastToolCalls: true })
  t.equal(config.auth.apiKey?.header, 'x-api-key')
  t.equal(config.auth.apiKey?.keys[0]?.key, KEY)
})

t.test('${NAME} and ${NAME:-default} interpolation', async (t) => {
  const doc = { ...apiKeyDoc(), server: { host: '${BIND:-127.0.0.1}', port: '${LISTEN_PORT:-4000}' }, mcp: { path: '/${MCP_PREFIX}/mcp' } }
  const config = parseConfig(doc, { env: { CALCULATOR_API_KEY: KEY, MCP_PREFIX: 'tools' } })
  t.equal(config.server.host, '127.0.0.1')
  t.equal(config.server.port, 4000, 'a default is coerced to the field type')
  t.equal(config.mcp.path, '/tools/mcp')
  t.equal(parseConfig(doc, { env: { CALCULATOR_API_KEY: KEY, MCP_PREFIX: 'x', LISTEN_PORT: '5000' } }).server.port, 5000)
  const nested = { ...apiKeyDoc(), server: { publicUrl: '${PUBLIC:-http://127.0.0.1:${LISTEN_PORT:-4000}}' } }
  t.equal(parseConfig(nested, { env: { CALCULATOR_API_KEY: KEY } }).server.publicUrl, 'http://127.0.0.1:4000', 'a default may hold a placeholder')
  t.equal(parseConfig(nested, { env: { CALCULATOR_API_KEY: KEY, LISTEN_PORT: '5000' } }).server.publicUrl, 'http://127.0.0.1:5000')
  t.equal(parseConfig(nested, { env: { CALCULATOR_API_KEY: KEY, PUBLIC: 'https://calc.example.com', LISTEN_PORT: '5000' } }).server.publicUrl, 'https://calc.example.com')
})

t.test('a missing variable is reported by path and name', async (t) => {
  const doc = { auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'a', key: KEY, permissions: ['*'] }, { id: 'b', key: '${CALCULATOR_API_KEY}', permissions: ['*'] }] } } }
  t.same(problemsOf(() => parseConfig(doc, { env: {} })), ['auth.apiKey.keys[1].key: environment variable CALCULATOR_API_KEY is not set'])
})

t.test('every problem is listed at once, each by path', async (t) => {
  const doc = {
    server: { port: 'eighty', colour: 'blue' },
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'a', key: 'short', permissions: ['*'] }, { id: 'b', key: '${NOPE}', permissions: ['*'] }, { id: 'c', permissions: ['*'] }] } },
    mcp: { sessions: 'sometimes', sessionIdleTimeout: 'forever' }
  }
  const problems = problemsOf(() => parseConfig(doc, { env: {} }))
  t.match(problems, [
    'auth.apiKey.keys[1].key: environment variable NOPE is not set',
    /^server\.port: /,
    /^server: .*colour/,
    /^auth\.apiKey\.keys\[0\]\.key: .*16/,
    /^auth\.apiKey\.keys\[2\]: give exactly one of key, keyFile or sha256/,
    /^mcp\.sessions: /,
    /^mcp\.sessionIdleTimeout: expected a duration/
  ])
  t.equal(problems.length, 7, problems.join('\n'))
})

t.test('*File secrets are read relative to the config file; unreadable ones are reported', async (t) => {
  const dir = t.testdir({ secrets: { 'api-key': `${KEY}\n` } })
  const file = join(dir, 'config.yaml')
  writeFileSync(file, 'auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: a, keyFile: secrets/api-key, permissions: ["*"] }\n')
  t.equal(loadConfigFile(file, { env: {} }).auth.apiKey?.keys[0]?.key, KEY, 'trailing newline removed')

  writeFileSync(file, 'auth:\n  strategy: api-key\n  apiKey:\n    keys:\n      - { id: a, keyFile: secrets/missing, permissions: ["*"] }\n      - { id: b, key: x, keyFile: secrets/api-key, permissions: ["*"] }\n')
  t.same(problemsOf(() => loadConfigFile(file, { env: {} })), [
    'auth.apiKey.keys[0].keyFile: cannot read file secrets/missing (ENOENT)',
    'auth.apiKey.keys[1].keyFile: give either key or keyFile, not both'
  ])
})

t.test('sha256 form: 64 hex digits', async (t) => {
  const digest = sha256(KEY).toString('hex')
  const ok = parseConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'a', sha256: digest, permissions: [] }] } } }, { env: {} })
  t.equal(ok.auth.apiKey?.keys[0]?.sha256, digest)
  t.match(problemsOf(() => parseConfig({ auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'a', sha256: 'abc', permissions: [] }] } } }, { env: {} })),
    ['auth.apiKey.keys[0].sha256: expected 64 hex digits (the SHA-256 of the key)'])
})

t.test('HOST and PORT override the file; command-line values override both', async (t) => {
  const env = { CALCULATOR_API_KEY: KEY, HOST: '127.0.0.2', PORT: '8123' }
  t.match(parseConfig(apiKeyDoc(), { env }).server, { host: '127.0.0.2', port: 8123 })
  t.match(parseConfig(apiKeyDoc(), { env, overrides: { host: '::1', port: 9000 } }).server, { host: '::1', port: 9000 })
})

t.test('strategy none: selected by CALCULATOR_REQUIRE_AUTH=false, refused off loopback', async (t) => {
  const config = parseConfig(apiKeyDoc(KEY), { env: { CALCULATOR_REQUIRE_AUTH: 'false' } })
  t.equal(config.auth.strategy, 'none')
  t.equal(parseConfig(apiKeyDoc(), { env: { CALCULATOR_REQUIRE_AUTH: 'false' } }).auth.strategy, 'none',
    'the other strategies\' variables are not needed (npm start with the default config, no key set)')
  t.same(problemsOf(() => parseConfig({ auth: { strategy: 'none' }, server: { host: '0.0.0.0' } }, { env: {} })),
    ['auth.strategy: strategy none (no authentication) is refused when binding 0.0.0.0; bind a loopback address such as 127.0.0.1'])
  t.same(problemsOf(() => parseConfig(apiKeyDoc(KEY), { env: { CALCULATOR_REQUIRE_AUTH: 'false', HOST: '0.0.0.0' } })).length, 1)
})

t.test('server.tls.caFile is refused when no chosen strategy checks client certificates', async (t) => {
  const doc = { server: { tls: { certFile: 'cert.pem', keyFile: 'key.pem', caFile: 'ca.pem' } }, auth: { strategy: 'none' } }
  t.same(problemsOf(() => parseConfig(doc, { env: {} })), ['server.tls.caFile: client certificates would be requested but no chosen strategy checks them: choose jwt or mtls, or remove caFile'])
})

t.test('a selected strategy needs its section', async (t) => {
  t.same(problemsOf(() => parseConfig({ auth: { strategy: 'api-key' } }, { env: {} })),
    ['auth.apiKey: strategy api-key is selected but auth.apiKey is missing'])
  t.match(problemsOf(() => parseConfig({ auth: { strategy: 'kerberos' } }, { env: {} })), [/^auth\.strategy: /])
})

t.test('files: YAML and JSON, syntax errors, unreadable files', async (t) => {
  const dir = t.testdir({
    'c.json': JSON.stringify(apiKeyDoc(KEY)),
    'broken.yaml': 'auth:\n  strategy: [api-key\n',
    'list.yaml': '- a\n- b\n'
  })
  t.equal(loadConfigFile(join(dir, 'c.json'), { env: {} }).auth.apiKey?.keys[0]?.id, 'a')
  t.match(problemsOf(() => loadConfigFile(join(dir, 'broken.yaml'), { env: {} })), [/^\(syntax\): /])
  t.same(problemsOf(() => loadConfigFile(join(dir, 'list.yaml'), { env: {} })), ['(root): expected a mapping of settings'])
  t.match(problemsOf(() => loadConfigFile(join(dir, 'absent.yaml'), { env: {} })), [/^\(file\): cannot read .*absent\.yaml \(ENOENT\)/])
})

t.test('the config file: --config, else MCP_AUTH_CONFIG, else config/default.yaml', async (t) => {
  t.equal(configFileFrom('/etc/a.yaml', { MCP_AUTH_CONFIG: '/etc/b.yaml' }), '/etc/a.yaml')
  t.equal(configFileFrom(undefined, { MCP_AUTH_CONFIG: '/etc/b.yaml' }), '/etc/b.yaml')
  t.equal(configFileFrom(undefined, {}), DEFAULT_CONFIG_FILE)
  t.match(DEFAULT_CONFIG_FILE, /config[/\\]default\.yaml$/)
})

t.test('every shipped example config is valid', async (t) => {
  const env = {
    CALCULATOR_API_KEY: KEY,
    MCP_BEARER_TOKEN: KEY,
    JWT_SECRET: KEY + KEY,
    CALCULATOR_BASIC_PASSWORD_HASH: await hashPassword('a long passphrase', { N: 1024, r: 8, p: 1 }),
    OIDC_ISSUER: 'https://auth.example.com',
    OIDC_JWKS_URL: 'https://auth.example.com/jwks',
    INTROSPECTION_ENDPOINT: 'https://auth.example.com/token/introspection',
    INTROSPECTION_CLIENT_SECRET: 'the introspection client secret',
    REPORTING_SECRET_HASH: await hashPassword('the client secret', { N: 1024, r: 8, p: 1 }),
    LOGIN_PASSWORD_HASH: await hashPassword('a login passphrase', { N: 1024, r: 8, p: 1 }),
    AGENT_PUBLIC_KEY_FILE: join(t.testdir({ 'agent.pub.pem': AGENT_PUBLIC_KEY + '\n' }), 'agent.pub.pem'),
    // Only read for access when the config is checked: any readable file stands in for the PEMs.
    TLS_CERT_FILE: fileURLToPath(import.meta.url),
    TLS_KEY_FILE: fileURLToPath(import.meta.url),
    CLIENT_CA_FILE: fileURLToPath(import.meta.url)
  }
  const expected: Record<string, unknown> = {
    'default.yaml': 'api-key',
    'api-key.yaml': 'api-key',
    'bearer.yaml': 'bearer',
    'basic.yaml': 'basic',
    'jwt.yaml': 'jwt',
    'jwt-or-api-key.yaml': ['jwt', 'api-key'],
    'jwt-oidc.yaml': 'jwt',
    'jwt-issuer.yaml': 'jwt',
    'jwt-issuer-private-key-jwt.yaml': 'jwt',
    'jwt-issuers.yaml': 'jwt',
    'oauth.yaml': 'jwt',
    'trusted-header.yaml': 'trusted-header',
    'mtls.yaml': 'mtls',
    'introspection.yaml': 'introspection'
  }
  const shipped = readdirSync(dirname(DEFAULT_CONFIG_FILE)).filter((name) => /\.(ya?ml|json)$/.test(name)).sort()
  t.same(shipped, Object.keys(expected).sort(), 'every example is checked here')
  for (const [name, strategy] of Object.entries(expected)) {
    const config = loadConfigFile(join(dirname(DEFAULT_CONFIG_FILE), name), { env })
    t.same(config.auth.strategy, strategy, name)
  }
  const keyed = loadConfigFile(join(dirname(DEFAULT_CONFIG_FILE), 'jwt-issuer-private-key-jwt.yaml'), { env })
  t.equal(keyed.auth.jwt?.issue?.clients[0]?.publicKey, AGENT_PUBLIC_KEY, 'publicKeyFile is read like a secret file')
  const login = loadConfigFile(join(dirname(DEFAULT_CONFIG_FILE), 'oauth.yaml'), { env: { ...env, PORT: '4123' } })
  t.equal(login.server.publicUrl, 'http://127.0.0.1:4123', 'oauth.yaml: the public URL follows PORT')
  t.equal(login.auth.jwt?.issuer, 'http://127.0.0.1:4123')
  t.equal(login.auth.jwt?.issue?.login?.users[0]?.username, 'ada', 'LOGIN_USER defaults to ada')
  t.not(login.auth.jwt?.issue?.login?.dynamicRegistration, false, 'dynamic registration is on')
})
