import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { FAST_SCRYPT, JWT_SECRET } from './credentials.js'
import { testConfig } from './server.js'
import type { Config } from '../../deployment.js'

export const ISSUER = 'https://calc.test'
export const REPORTING = { id: 'reporting', secret: 'reporting secret, 0123456789' }
export const ADMIN = { id: 'admin', secret: 'admin secret, 0123456789abcdef' }

const hashes = new Map([
  [REPORTING.secret, await hashPassword(REPORTING.secret, FAST_SCRYPT)],
  [ADMIN.secret, await hashPassword(ADMIN.secret, FAST_SCRYPT)]
])

export interface IssuingOptions {
  /** The clients and their permissions (default: reporting with add and whoami, admin with calculator:*). */
  clients?: ReadonlyArray<{ client: { id: string, secret: string }, permissions: string[] }>
  /** auth.jwt.audience (default `${ISSUER}/mcp`); null leaves it out. */
  audience?: string | string[] | null
  /** server.publicUrl (default ISSUER); null leaves it out. */
  publicUrl?: string | null
  /**
   * auth.jwt.issue.refreshReuseInterval in ms. Default 0: a used refresh token presented again is
   * reuse at once, whatever the timing; null leaves it unset (the deployment's default, 2 s).
   */
  refreshReuseInterval?: number | null
  /** The rateLimit section (default: the test default, no failed-auth throttle). */
  rateLimit?: Record<string, unknown>
  /** Clients registered by key (private_key_jwt), after the secret clients: entries as a config file gives them. */
  keyClients?: ReadonlyArray<Record<string, unknown>>
  /** auth.jwt.issuer (default ISSUER): the only `aud` a client assertion may carry. */
  issuer?: string
  /** server.port (default: a free one). */
  port?: number
}

const DEFAULT_CLIENTS = [
  { client: REPORTING, permissions: ['calculator:add', 'calculator:whoami'] },
  { client: ADMIN, permissions: ['calculator:*'] }
]

/** A jwt deployment that issues its own tokens (auth.jwt.issue), optionally sharing state through Redis. */
export function issuingConfig (redisUrl?: string, options: IssuingOptions = {}): Config {
  const clients = (options.clients ?? DEFAULT_CLIENTS).map(({ client, permissions }) => {
    const secretHash = hashes.get(client.secret)
    if (secretHash === undefined) throw new Error(`no hash for client ${client.id}: use REPORTING or ADMIN`)
    return { id: client.id, secretHash, permissions }
  })
  const issuer = options.issuer ?? ISSUER
  const audience = options.audience === undefined ? `${issuer}/mcp` : options.audience
  const publicUrl = options.publicUrl === undefined ? issuer : options.publicUrl
  return testConfig({
    server: { ...(publicUrl === null ? {} : { publicUrl }), ...(options.port === undefined ? {} : { port: options.port }) },
    auth: {
      strategy: 'jwt',
      jwt: {
        secret: JWT_SECRET,
        issuer,
        ...(audience === null ? {} : { audience }),
        issue: { clients: [...clients, ...options.keyClients ?? []], ...(options.refreshReuseInterval === null ? {} : { refreshReuseInterval: options.refreshReuseInterval ?? 0 }) }
      }
    },
    ...(redisUrl === undefined ? {} : { store: { redisUrl } }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit })
  })
}

export function basic (client: { id: string, secret: string }): string {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')
}

export interface TokenAnswer {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

/** POSTs a form to the token or revocation endpoint of `origin`. */
export async function oauthPost (origin: URL | string, path: string, form: Record<string, string> | URLSearchParams, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const response = await fetch(new URL(path, origin), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form)
  })
  return { status: response.status, headers: response.headers, body: await response.json() as Record<string, unknown> }
}

export async function tokens (origin: URL | string, client = REPORTING, scope?: string): Promise<{ access: string, refresh: string }> {
  const answer = await oauthPost(origin, '/oauth/token', { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, { authorization: basic(client) })
  if (answer.status !== 200) throw new Error(`token request failed: ${answer.status} ${JSON.stringify(answer.body)}`)
  return { access: String(answer.body.access_token), refresh: String(answer.body.refresh_token) }
}

/** A refresh at `origin` with `client`'s credentials (and any extra parameters). */
export async function refresh (origin: URL | string, refreshToken: string, client = REPORTING, extra: Record<string, string> = {}): Promise<TokenAnswer> {
  return await oauthPost(origin, '/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, { authorization: basic(client) })
}

/** The claims of a JWT, unverified (to look at what was issued). */
export function claimsOf (token: unknown): Record<string, unknown> {
  return JSON.parse(Buffer.from(String(token).split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>
}
