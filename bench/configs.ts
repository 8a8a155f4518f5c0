import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { loadConfigFile } from '../deployment.js'
import { createTokenSigner } from '../plugins/auth/jwt-signer.js'
import { hashPassword } from '../plugins/credentials/password-hash.js'
import { distPath } from './processes.js'

export const API_KEY = 'bench-api-key-0123456789abcdefghijklmnop'
const BEARER = 'bench-bearer-0123456789abcdefghijklmnopq'
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdefghijklmnopqrstuv'
const PASSWORD = 'bench password, long enough'

export const CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 5, b: 3 } } })
/** The same call in the 2026-07-28 era: the `_meta` envelope in the body, its mirror in the headers. */
export const MODERN_CALL = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'add',
    arguments: { a: 5, b: 3 },
    _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '0' } }
  }
})
export const MODERN_HEADERS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' }

/** The strategies the bench drives; `jwt-es256` is config/jwt.yaml with an EC P-256 key pair instead of the secret. */
export type Strategy = 'api-key' | 'bearer' | 'basic' | 'jwt' | 'jwt-es256'

export type ConfigDoc = Record<string, Record<string, unknown>>

/** Config files for the bench's servers (in a temporary directory) and the credentials that pass them. */
export interface BenchConfigs {
  /** Environment every server gets: the secrets the example configs read. */
  env: NodeJS.ProcessEnv
  /** The strategy's example config with request logging off (as in the limit), changed by `edit`. */
  write: (strategy: Strategy, edit?: (doc: ConfigDoc) => void) => string
  /** Headers with valid credentials for the config in `file`; `subject` names the JWT's principal. */
  credentials: (strategy: Strategy, file: string, subject?: string) => Record<string, string>
  /** A file of `count` JWTs for the config in `file`, each for a different subject, one a line. */
  tokensFile: (file: string, count: number) => string
  /** Removes the temporary directory and everything in it. */
  remove: () => void
}

function jwtSigner (file: string, env: NodeJS.ProcessEnv): (subject: string) => string {
  const jwt = loadConfigFile(file, { env }).auth.jwt
  if (jwt === undefined) throw new Error(`${file}: no jwt section`)
  const sign = createTokenSigner(jwt)
  return (subject) => sign({ sub: subject, permissions: ['calculator:*'], ttl: 3_600_000 }).token
}

export async function benchConfigs (): Promise<BenchConfigs> {
  const workDir = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-bench-'))
  const env: NodeJS.ProcessEnv = { CALCULATOR_API_KEY: API_KEY, MCP_BEARER_TOKEN: BEARER, JWT_SECRET, CALCULATOR_BASIC_PASSWORD_HASH: await hashPassword(PASSWORD) }
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const publicKey = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const privateKey = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  let files = 0

  const write = (strategy: Strategy, edit?: (doc: ConfigDoc) => void): string => {
    const doc = parse(readFileSync(distPath(`../config/${strategy === 'jwt-es256' ? 'jwt' : strategy}.yaml`), 'utf8')) as ConfigDoc
    doc.logger = { level: 'warn' }
    if (strategy === 'jwt-es256') {
      const { secret: _secret, ...jwt } = doc.auth?.jwt as Record<string, unknown>
      doc.auth = { ...doc.auth, jwt: { ...jwt, algorithms: ['ES256'], publicKey, privateKey } }
    }
    edit?.(doc)
    const file = join(workDir, `${strategy}-${++files}.yaml`)
    writeFileSync(file, stringify(doc))
    return file
  }

  const credentials = (strategy: Strategy, file: string, subject = 'bench'): Record<string, string> => {
    switch (strategy) {
      case 'api-key': return { 'x-api-key': API_KEY }
      case 'bearer': return { authorization: `Bearer ${BEARER}` }
      case 'basic': return { authorization: 'Basic ' + Buffer.from(`alice:${PASSWORD}`).toString('base64') }
      default: return { authorization: `Bearer ${jwtSigner(file, env)(subject)}` }
    }
  }

  const tokensFile = (file: string, count: number): string => {
    const sign = jwtSigner(file, env)
    const tokens = Array.from({ length: count }, (_, index) => sign(`bench-${index}`))
    const out = join(workDir, `tokens-${++files}.txt`)
    writeFileSync(out, tokens.join('\n') + '\n')
    return out
  }

  return { env, write, credentials, tokensFile, remove: () => { rmSync(workDir, { recursive: true, force: true }) } }
}
