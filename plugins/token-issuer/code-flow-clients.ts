import { randomBytes } from 'node:crypto'
import type { TokenStore } from '../token-store/store.js'
import { redirectUriMatches } from './redirect-uris.js'

/**
 * A client of the authorization code flow (always with PKCE): public (token_endpoint_auth_method
 * none, no secret) or confidential (a configured client that also has a secret or a key, and
 * must authenticate at the token endpoint).
 */
export interface CodeFlowClient {
  id: string
  /** What the consent page shows. */
  name: string
  redirectUris: readonly string[]
  /** The most it may be granted; the signed-in user's permissions bound it too. */
  permissions: readonly string[]
  /**
   * From the config, so its redirect URIs were vetted by the operator; not registered (RFC 7591)
   * or published (a metadata document) by whoever wanted to. Only such a client gets errors
   * redirected to it before the user has seen a page (RFC 9700 §4.11.2: no open redirector).
   */
  configured: boolean
  /** Configured with a secretHash, publicKey or jwks: its code and refresh grants need that client authentication. */
  confidential: boolean
}

/** RFC 7591 `token_endpoint_auth_method` of a public client (OAuth's word, not the auth strategy of that name). */
export const PUBLIC_CLIENT_AUTH_METHOD = 'none'

/** Dynamically registered ids start with this, so a configured id is never looked up in the store. */
export const DYNAMIC_CLIENT_PREFIX = 'dyn_'

const storeKey = (id: string): string => `client:${id}`

export interface Registration {
  name: string
  redirectUris: readonly string[]
}

/** Clients known by a document they publish (client ID metadata documents), not by registration. */
export interface PublishedClients {
  /** Whether `id` names such a client (then no other kind is looked up). */
  accepts: (id: string) => boolean
  /** Throws an error that says why when the client cannot be used. */
  find: (id: string) => Promise<CodeFlowClient>
  /** The most any of them may be granted. */
  readonly permissions: readonly string[]
}

export interface CodeFlowClientDirectory {
  /** The code-flow client with this id, configured, registered or published; undefined when there is none. */
  find: (id: string) => Promise<CodeFlowClient | undefined>
  /** Stores a new registration (RFC 7591) for `ttlMs`; its id is random. */
  register: (registration: Registration, ttlMs: number) => Promise<CodeFlowClient>
  /** Whether a configured or registered client may use `redirectUri` (exact, loopback ports aside). */
  allowsRedirect: (client: CodeFlowClient, redirectUri: string) => boolean
  /** Whether `id` names a client by its metadata document (finding it may mean fetching it). */
  isPublished: (id: string) => boolean
  /** A configured client's permissions, the registration bound for a registered one (whether or not it is still registered: find says that). */
  permissionsOf: (id: string) => readonly string[] | undefined
}

function parseRegistration (raw: string | undefined, id: string, permissions: readonly string[]): CodeFlowClient | undefined {
  if (raw === undefined) return undefined
  try {
    const value = JSON.parse(raw) as { name?: unknown, redirectUris?: unknown }
    if (typeof value.name !== 'string' || !Array.isArray(value.redirectUris) || !value.redirectUris.every((uri) => typeof uri === 'string')) return undefined
    return { id, name: value.name, redirectUris: value.redirectUris, permissions, configured: false, confidential: false }
  } catch {
    return undefined
  }
}

/** What the directory reads of a configured client. */
export interface ConfiguredClient {
  id: string
  name?: string | undefined
  redirectUris?: readonly string[] | undefined
  permissions: readonly string[]
  secretHash?: string | undefined
  publicKey?: string | undefined
  jwks?: unknown
}

/**
 * Clients of the code flow: the configured ones (`issue.clients` entries with redirectUris,
 * confidential when they also have a credential), with dynamic registration on, the registered
 * ones in the token store (shared by every instance; always public), and with `published`, the
 * clients whose id is the URL of their metadata document (always public).
 */
export function createCodeFlowClientDirectory (configured: readonly ConfiguredClient[], store: TokenStore, dynamicPermissions: readonly string[] | undefined, published?: PublishedClients): CodeFlowClientDirectory {
  const byId = new Map<string, CodeFlowClient>()
  // Every configured id, machine clients' too: none of them is ever a registration or a document.
  const configuredIds = new Set(configured.map((client) => client.id))
  const isPublished = (id: string): boolean => !configuredIds.has(id) && published?.accepts(id) === true
  for (const client of configured) {
    if (client.redirectUris === undefined) continue
    const confidential = client.secretHash !== undefined || client.publicKey !== undefined || client.jwks !== undefined
    byId.set(client.id, { id: client.id, name: client.name ?? client.id, redirectUris: client.redirectUris, permissions: client.permissions, configured: true, confidential })
  }
  const dynamic = (id: string): boolean => dynamicPermissions !== undefined && id.startsWith(DYNAMIC_CLIENT_PREFIX) && !configuredIds.has(id)
  return {
    find: async (id) => {
      const known = byId.get(id)
      if (published !== undefined && isPublished(id)) return await published.find(id)
      if (known !== undefined || !dynamic(id) || dynamicPermissions === undefined) return known
      return parseRegistration(await store.get(storeKey(id)), id, dynamicPermissions)
    },
    register: async (registration, ttlMs) => {
      const id = DYNAMIC_CLIENT_PREFIX + randomBytes(16).toString('base64url')
      await store.put(storeKey(id), JSON.stringify(registration), ttlMs)
      return { id, ...registration, permissions: dynamicPermissions ?? [], configured: false, confidential: false }
    },
    allowsRedirect: (client, redirectUri) => client.redirectUris.some((registered) => redirectUriMatches(registered, redirectUri)),
    isPublished,
    permissionsOf: (id) => byId.get(id)?.permissions ?? (isPublished(id) ? published?.permissions : dynamic(id) ? dynamicPermissions : undefined)
  }
}
