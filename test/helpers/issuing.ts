import { hashPassword } from '../../plugins/auth/password-hash.js'
import { FAST_SCRYPT, JWT_SECRET } from './credentials.js'
import { testConfig } from './server.js'
import type { Config } from '../../config/schema.js'

export const ISSUER = 'https://calc.test'
export const REPORTING = { id: 'reporting', secret: 'reporting secret, 0123456789' }
export const ADMIN = { id: 'admin', secret: 'admin secret, 0123456789abcdef' }

const hashes = {
  reporting: await hashPassword(REPORTING.secret, FAST_SCRYPT),
  admin: await hashPassword(ADMIN.secret, FAST_SCRYPT)
}

/** A jwt deployment that issues its own tokens (auth.jwt.issue), optionally sharing state through Redis. */
export function issuingConfig (redisUrl?: string): Config {
  return testConfig({
    server: { publicUrl: ISSUER },
    auth: {
      strategy: 'jwt',
      jwt: {
        secret: JWT_SECRET,
        issuer: ISSUER,
        audience: `${ISSUER}/mcp`,
        issue: {
          clients: [
            { id: REPORTING.id, secretHash: hashes.reporting, permissions: ['calculator:add', 'calculator:whoami'] },
            { id: ADMIN.id, secretHash: hashes.admin, permissions: ['calculator:*'] }
          ]
        }
      }
    },
    ...(redisUrl === undefined ? {} : { store: { redisUrl } })
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
export async function oauthPost (origin: URL | string, path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
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
