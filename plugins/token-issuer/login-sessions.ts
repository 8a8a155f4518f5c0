import { randomBytes } from 'node:crypto'
import { sha256 } from '../credentials/compare.js'
import type { TokenStore } from '../token-store/store.js'

/** The `prompt` values the authorization endpoint acts on (OIDC Core §3.1.2.1); others are ignored. */
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const

/** An authorization request checked at /oauth/authorize, waiting for the user's sign-in and consent. */
export interface PendingAuthorization {
  /** Names this request in the forms, so a form for another request (another tab) is refused. */
  id: string
  clientId: string
  clientName: string
  redirectUri: string
  state: string
  codeChallenge: string
  /** The `scope` parameter as requested. */
  scope?: string | undefined
  /** What may be granted: the request's scope narrowed by the client's and the user's permissions. */
  permissions: string[]
  resource?: string | undefined
  audience?: string | undefined
  /** `prompt=consent`: ask even when consent is remembered. */
  forceConsent: boolean
  /** `prompt=login`: no consent (and no code) until the user signs in again, whoever is signed in now. */
  reauthenticate?: boolean | undefined
}

/** A browser's sign-in state, kept server-side; the cookie holds only a random id. */
export interface LoginSession {
  /** The CSRF token of this session's forms. */
  csrf: string
  user?: string
  pending?: PendingAuthorization
  /** Epoch milliseconds: the session ends then, however often it is written. */
  expiresAt: number
}

const sessionKey = (id: string): string => `login-session:${sha256(id).toString('base64url')}`

function parseSession (raw: string | undefined): LoginSession | undefined {
  if (raw === undefined) return undefined
  try {
    const value = JSON.parse(raw) as Partial<LoginSession>
    return typeof value.csrf === 'string' && typeof value.expiresAt === 'number' ? value as LoginSession : undefined
  } catch {
    return undefined
  }
}

/** Login sessions, in the token store (so every instance shares them). */
export class LoginSessions {
  readonly #store: TokenStore
  readonly #ttl: number
  readonly #now: () => number

  constructor (store: TokenStore, ttl: number, now: () => number = Date.now) {
    this.#store = store
    this.#ttl = ttl
    this.#now = now
  }

  /** A new session (a new id, a new CSRF token); its id goes in the cookie. */
  async create (data: Pick<LoginSession, 'user' | 'pending'> = {}): Promise<{ id: string, session: LoginSession }> {
    const id = randomBytes(32).toString('base64url')
    const session: LoginSession = { csrf: randomBytes(32).toString('base64url'), ...data, expiresAt: this.#now() + this.#ttl }
    await this.#store.put(sessionKey(id), JSON.stringify(session), this.#ttl)
    return { id, session }
  }

  async read (id: string | undefined): Promise<LoginSession | undefined> {
    if (id === undefined || id === '') return undefined
    const session = parseSession(await this.#store.get(sessionKey(id)))
    return session === undefined || session.expiresAt <= this.#now() ? undefined : session
  }

  async write (id: string, session: LoginSession): Promise<void> {
    await this.#store.put(sessionKey(id), JSON.stringify(session), session.expiresAt - this.#now())
  }

  async destroy (id: string): Promise<void> {
    await this.#store.delete(sessionKey(id))
  }

  get ttl (): number {
    return this.#ttl
  }
}
