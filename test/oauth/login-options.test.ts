import t from 'tap'
import { buildApp } from '../../app.js'
import { parseConfig } from '../../deployment.js'
import { ConfigError } from '../../core/problems.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { FAST_SCRYPT, JWT_SECRET } from '../helpers/credentials.js'
import { testConfig } from '../helpers/server.js'
import { ecKeys } from '../helpers/assertions.js'

// The login section and public clients: what the config refuses, by path.

const hash = await hashPassword('a login passphrase', FAST_SCRYPT)
const user = { username: 'ada', passwordHash: hash, permissions: ['calculator:*'] }
const PUBLIC_KEY = ecKeys().publicPem
const publicClient = { id: 'desktop', redirectUris: ['http://127.0.0.1/callback'], permissions: ['calculator:*'] }

function problems (issue: Record<string, unknown>): string[] {
  try {
    parseConfig({ auth: { strategy: 'jwt', jwt: { secret: JWT_SECRET, issuer: 'https://calc.test', issue } } }, { env: {} })
    return []
  } catch (error) {
    return error instanceof ConfigError ? error.problems.map((problem) => `${problem.path}: ${problem.message}`) : [String(error)]
  }
}

t.test('valid: public clients with login; only dynamic registration and no clients', async (t) => {
  t.same(problems({ clients: [publicClient], login: { users: [user] } }), [])
  t.same(problems({ clients: [{ ...publicClient, secretHash: hash }], login: { users: [user] } }), [], 'a confidential client of the code flow: redirectUris and a secret')
  t.same(problems({ clients: [{ ...publicClient, name: 'Web app', publicKey: PUBLIC_KEY, algorithms: ['ES256'] }], login: { users: [user] } }), [], 'or a key')
  t.same(problems({ login: { users: [user], dynamicRegistration: {} } }), [])
})

t.test('refused, each by path', async (t) => {
  t.match(problems({ clients: [{ ...publicClient, secretHash: hash, publicKey: PUBLIC_KEY }], login: { users: [user] } }), [/clients\[0\]: a client with redirectUris is public \(no secretHash, publicKey or jwks: PKCE only\) or confidential with exactly one of them/])
  t.match(problems({ clients: [{ ...publicClient, algorithms: ['ES256'] }], login: { users: [user] } }), [/clients\[0\]\.algorithms: algorithms is for clients registered by key .* a client with redirectUris and no key is a public client/])
  t.match(problems({ clients: [publicClient] }), [/login: clients with redirectUris need login/])
  t.match(problems({ clients: [{ ...publicClient, redirectUris: ['http://app.example.com/cb'] }], login: { users: [user] } }), [/clients\[0\]\.redirectUris\[0\]: expected an absolute https URL, or http on a loopback host/])
  t.match(problems({ clients: [{ ...publicClient, redirectUris: ['https://app.example.com/cb#x'] }], login: { users: [user] } }), [/redirectUris\[0\]/])
  t.match(problems({ clients: [{ id: 'c', secretHash: hash, name: 'C', permissions: [] }] }), [/clients\[0\]\.name: name is for clients of the authorization code flow \(with redirectUris\)/])
  t.match(problems({ login: { users: [user] } }), [/clients: at least one client is required \(or login\.dynamicRegistration or login\.clientMetadataDocuments\)/])
  t.match(problems({ clients: [publicClient], login: { users: [{ ...user, passwordHash: 'plain' }] } }), [/login\.users\[0\]\.passwordHash: expected the output of `fastify-mcp-auth hash-password`/])
  t.match(problems({ clients: [publicClient], login: { users: [{ ...user, password: 'plain' }] } }), [/login\.users\[0\]\.password: plain passwords are refused/])
  t.match(problems({ clients: [publicClient], login: { users: [user, user] } }), [/login\.users: usernames must be unique/])
})

t.test('login without server.publicUrl: start-up stops and says what to set', async (t) => {
  const config = testConfig({ auth: { strategy: 'jwt', jwt: { secret: JWT_SECRET, issuer: 'https://calc.test', issue: { clients: [publicClient], login: { users: [user] } } } } })
  await t.rejects(buildApp(config), /auth\.jwt\.issue\.login needs auth\.jwt\.issuer .* and server\.publicUrl/)
})

t.test('clientMetadataDocuments: valid alone, and its limits refused by path', async (t) => {
  t.same(problems({ login: { users: [user], clientMetadataDocuments: {} } }), [], 'documents alone need no configured client')
  t.same(problems({ login: { users: [user], clientMetadataDocuments: { allowPrivateNetworks: ['10.0.0.0/8', '::1', '127.0.0.1'], cacheTtl: '24h', timeout: '2s', maxBytes: 4096 } } }), [])
  t.match(problems({ clients: [publicClient], login: { users: [user], clientMetadataDocuments: { allowPrivateNetworks: ['10.0.0.0/33'] } } }), [/login\.clientMetadataDocuments\.allowPrivateNetworks\[0\]: expected an address or CIDR network/])
  t.match(problems({ clients: [publicClient], login: { users: [user], clientMetadataDocuments: { cacheTtl: '25h' } } }), [/login\.clientMetadataDocuments\.cacheTtl: at most 24h/])
  t.match(problems({ clients: [publicClient], login: { users: [user], clientMetadataDocuments: { timeout: '1m' } } }), [/login\.clientMetadataDocuments\.timeout: expected a duration above zero and at most 30s/])
  t.match(problems({ clients: [publicClient], login: { users: [user], clientMetadataDocuments: { maxBytes: 1_000_000 } } }), [/login\.clientMetadataDocuments\.maxBytes/])
  t.match(problems({ clients: [publicClient], login: { users: [user], authorizeLimit: { max: 0, timeWindow: '1m' } } }), [/login\.authorizeLimit\.max/])
})

t.test('clientMetadataDocuments.caFile that cannot be read: start-up stops and names it', async (t) => {
  const config = testConfig({
    server: { publicUrl: 'https://calc.test' },
    auth: { strategy: 'jwt', jwt: { secret: JWT_SECRET, issuer: 'https://calc.test', issue: { login: { users: [user], clientMetadataDocuments: { caFile: '/nonexistent/ca.pem' } } } } }
  })
  await t.rejects(buildApp(config), /clientMetadataDocuments\.caFile: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/)
})
