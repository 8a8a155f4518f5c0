import type { OAuthClientInformationContext, OAuthClientMetadata, OAuthClientProvider, OAuthDiscoveryState, StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import type { Config } from '../../deployment.js'
import { FAST_SCRYPT, JWT_SECRET } from './credentials.js'
import { testConfig } from './server.js'

export const ADA = { username: 'ada', password: 'correct horse battery staple' }
export const BOB = { username: 'bob', password: 'bob password, 0123456789' }
/** Nothing listens there: the driver reads the redirect instead of following it. */
export const REDIRECT_URI = 'http://127.0.0.1:9/callback'
export const DESKTOP = { id: 'desktop', name: 'Desktop Calculator', redirectUris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'] }

const hashes = { ada: await hashPassword(ADA.password, FAST_SCRYPT), bob: await hashPassword(BOB.password, FAST_SCRYPT) }

export interface LoginConfigOptions {
  /** The users' permissions (default: ada calculator:*, bob calculator:add). */
  users?: { ada?: string[], bob?: string[] }
  /** The configured public client's permissions (default calculator:*). */
  clientPermissions?: string[]
  dynamicRegistration?: false | Record<string, unknown>
  rateLimit?: Record<string, unknown>
  login?: Record<string, unknown>
  /** The public URL, issuer and audience origin (default http://127.0.0.1:`port`). */
  origin?: string
  /** More `issue.clients` entries, after the public DESKTOP one. */
  clients?: ReadonlyArray<Record<string, unknown>>
  /** The `store` section (default: memory). */
  store?: Record<string, unknown>
  /** auth.jwt.issue.refreshReuseInterval (default 0: a replay is reuse at once). */
  refreshReuseInterval?: string | number
}

/** A jwt deployment with interactive login, at http://127.0.0.1:`port` (issuer, publicUrl and audience agree). */
export function loginConfig (port: number, options: LoginConfigOptions = {}): Config {
  return testConfig(loginConfigFile(port, options))
}

/** loginConfig as it would be written in a config file (for the command line), before defaults. */
export function loginConfigFile (port: number, options: LoginConfigOptions = {}): Record<string, unknown> {
  const origin = options.origin ?? `http://127.0.0.1:${port}`
  return {
    server: { port, publicUrl: origin },
    auth: {
      strategy: 'jwt',
      jwt: {
        secret: JWT_SECRET,
        issuer: origin,
        audience: `${origin}/mcp`,
        issue: {
          clients: [{ ...DESKTOP, permissions: options.clientPermissions ?? ['calculator:*'] }, ...options.clients ?? []],
          refreshReuseInterval: options.refreshReuseInterval ?? 0,
          login: {
            users: [
              { username: ADA.username, passwordHash: hashes.ada, permissions: options.users?.ada ?? ['calculator:*'] },
              { username: BOB.username, passwordHash: hashes.bob, permissions: options.users?.bob ?? ['calculator:add'] }
            ],
            dynamicRegistration: options.dynamicRegistration ?? {},
            ...options.login
          }
        }
      }
    },
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.store === undefined ? {} : { store: options.store })
  }
}

/**
 * An OAuthClientProvider kept in memory, for a client that registers itself (DCR) or uses
 * `client` (an id, or the whole client information: with a `client_secret`, a confidential client).
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined
  lastState: string | undefined
  #client: StoredOAuthClientInformation | undefined
  #tokens: StoredOAuthTokens | undefined
  #verifier = ''
  #discovery: OAuthDiscoveryState | undefined

  constructor (client?: string | StoredOAuthClientInformation) {
    if (client !== undefined) this.#client = typeof client === 'string' ? { client_id: client } : client
  }

  get redirectUrl (): string { return REDIRECT_URI }
  get clientMetadata (): OAuthClientMetadata {
    return { client_name: 'SDK test client', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' }
  }

  state (): string {
    this.lastState = crypto.randomUUID()
    return this.lastState
  }

  clientInformation (_ctx?: OAuthClientInformationContext): StoredOAuthClientInformation | undefined { return this.#client }
  saveClientInformation (information: StoredOAuthClientInformation): void { this.#client = information }
  tokens (): StoredOAuthTokens | undefined { return this.#tokens }
  saveTokens (tokens: StoredOAuthTokens): void { this.#tokens = tokens }
  redirectToAuthorization (url: URL): void { this.authorizationUrl = url }
  saveCodeVerifier (verifier: string): void { this.#verifier = verifier }
  codeVerifier (): string { return this.#verifier }
  saveDiscoveryState (state: OAuthDiscoveryState): void { this.#discovery = state }
  discoveryState (): OAuthDiscoveryState | undefined { return this.#discovery }
}

/** A browser's cookie jar for one origin, enough for the login cookie. */
export class CookieJar {
  #cookies = new Map<string, string>()

  take (response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const [name = '', ...value] = pair.split('=')
      this.#cookies.set(name, value.join('='))
    }
  }

  get header (): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

/** The value of a hidden field of a page. */
export function hiddenField (html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(html)
  if (match?.[1] === undefined) throw new Error(`no hidden field ${name} in the page`)
  return match[1]
}

export interface LoginDrive {
  user?: { username: string, password: string }
  /** The scopes to leave checked (default: all the page offers). */
  scopes?: (offered: string[]) => string[]
  decision?: 'allow' | 'deny'
}

/** POSTs a form with the jar's cookies, as a same-origin page would, without following redirects. */
export async function postForm (url: URL, jar: CookieJar, form: URLSearchParams, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header, 'sec-fetch-site': 'same-origin', origin: url.origin, ...headers }, body: form })
  jar.take(response)
  return response
}

/** What a browser does from the authorization URL to the client's redirect: sign in, consent; the final Location. */
export async function driveLogin (authorizationUrl: URL, drive: LoginDrive = {}, jar = new CookieJar()): Promise<URL> {
  const user = drive.user ?? ADA
  const loginPage = await fetch(authorizationUrl, { redirect: 'manual', headers: { cookie: jar.header } })
  jar.take(loginPage)
  if (loginPage.status === 303) return await consent(authorizationUrl, loginPage, jar, drive)
  const html = await loginPage.text()
  if (loginPage.status !== 200) throw new Error(`authorize answered ${loginPage.status}: ${html}`)
  const signedIn = await postForm(new URL('/oauth/login', authorizationUrl), jar, new URLSearchParams({ csrf: hiddenField(html, 'csrf'), request: hiddenField(html, 'request'), username: user.username, password: user.password }))
  if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}`)
  return await consent(authorizationUrl, signedIn, jar, drive)
}

async function consent (base: URL, redirect: Response, jar: CookieJar, drive: LoginDrive): Promise<URL> {
  const page = await fetch(new URL(redirect.headers.get('location') ?? '', base), { redirect: 'manual', headers: { cookie: jar.header } })
  if (page.status === 303) return new URL(page.headers.get('location') ?? '')
  const html = await page.text()
  const offered = [...html.matchAll(/<input type="checkbox" name="scope" value="([^"]*)" checked>/g)].map((match) => match[1] ?? '')
  const form = new URLSearchParams({ csrf: hiddenField(html, 'csrf'), request: hiddenField(html, 'request'), decision: drive.decision ?? 'allow' })
  for (const scope of drive.scopes?.(offered) ?? offered) form.append('scope', scope)
  const answer = await postForm(new URL('/oauth/consent', base), jar, form)
  if (answer.status !== 303) throw new Error(`consent answered ${answer.status}`)
  return new URL(answer.headers.get('location') ?? '')
}
