import { OAuthError } from '../../core/errors.js'
import { CredentialCache } from '../credentials/credential-cache.js'
import { SingleFlight } from '../credentials/single-flight.js'
import { ClientMetadataProblem, publicClientMetadata } from './client-metadata.js'
import { DocumentFetchError, type FetchDocument } from './client-metadata-fetch.js'
import type { CodeFlowClient, PublishedClients } from './code-flow-clients.js'

/** Kept when the document's answer says nothing of caching. */
const DEFAULT_CACHE_TTL = 5 * 60_000
const MAX_CACHED = 1000
const MAX_URL_LENGTH = 2000
/** Fetches in progress at once (each bounded by the timeout): a cap on what callers can make this server do. */
export const MAX_CONCURRENT_FETCHES = 16

/** A client_id that names a client ID metadata document rather than a registered client. */
export function isClientMetadataUrl (clientId: string): boolean {
  return clientId.startsWith('https://')
}

/** Why a client's metadata document cannot be used: invalid_client, at either endpoint. */
export class ClientMetadataError extends OAuthError {
  constructor (reason: string) {
    super('invalid_client', `the client's metadata document ${reason}`, 401)
  }
}

/**
 * draft-ietf-oauth-client-id-metadata-document §3: an https URL with a path, no query, fragment
 * or credentials, in its canonical form (so the string compare with the document's client_id,
 * and the cache key, mean one thing).
 */
function checkClientIdUrl (clientId: string): URL {
  if (clientId.length > MAX_URL_LENGTH || !URL.canParse(clientId)) throw new ClientMetadataError('URL is not a valid URL')
  const url = new URL(clientId)
  if (url.href !== clientId) throw new ClientMetadataError('URL is not in canonical form (no dot segments, lower-case host, no default port)')
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') throw new ClientMetadataError('URL must not have credentials, a query or a fragment')
  if (url.pathname === '/') throw new ClientMetadataError('URL must have a path')
  return url
}

function clientOf (url: URL, json: unknown, permissions: readonly string[]): CodeFlowClient {
  const id = url.href
  if (typeof json !== 'object' || json === null || (json as { client_id?: unknown }).client_id !== id) throw new ClientMetadataError('has a client_id other than its own URL')
  let metadata
  try {
    metadata = publicClientMetadata(json)
  } catch (error) {
    if (error instanceof ClientMetadataProblem) throw new ClientMetadataError(`is not valid: ${error.message}`)
    throw error
  }
  if (metadata.name === undefined) throw new ClientMetadataError('has no client_name')
  // The host that published the document stands next to the name it chose, on every page.
  return { id, name: `${metadata.name} (${url.host})`, redirectUris: metadata.redirectUris, permissions, configured: false, confidential: false }
}

export interface ClientMetadataDocumentsOptions {
  fetch: FetchDocument
  /** The most a client known by its document may be granted. */
  permissions: readonly string[]
  /** The longest a document is kept, whatever its Cache-Control says (ms). */
  cacheTtl: number
  now?: () => number
}

/**
 * Clients whose client_id is the URL of their metadata document: fetched on first use, checked,
 * and kept for as long as HTTP caching allows (capped by cacheTtl; 5 minutes when the answer says
 * nothing). Failures are never kept, so a fixed document works on the next attempt.
 */
export class ClientMetadataDocuments implements PublishedClients {
  readonly #options: ClientMetadataDocumentsOptions
  /** The bounded TTL cache the credential checks use: at most cacheTtl per entry, least recently used out first. */
  readonly #cache: CredentialCache<CodeFlowClient>
  readonly #fetching = new SingleFlight<CodeFlowClient>()

  constructor (options: ClientMetadataDocumentsOptions) {
    this.#options = options
    this.#cache = new CredentialCache(options.cacheTtl, MAX_CACHED, options.now)
  }

  accepts (clientId: string): boolean {
    return isClientMetadataUrl(clientId)
  }

  get permissions (): readonly string[] {
    return this.#options.permissions
  }

  async find (clientId: string): Promise<CodeFlowClient> {
    const cached = this.#cache.get(clientId)
    if (cached !== undefined) return cached
    const url = checkClientIdUrl(clientId)
    if (this.#fetching.size >= MAX_CONCURRENT_FETCHES && !this.#fetching.has(clientId)) throw new ClientMetadataError('cannot be fetched now: too many fetches are in progress, try again shortly')
    return await this.#fetching.run(clientId, async () => await this.#load(url))
  }

  async #load (url: URL): Promise<CodeFlowClient> {
    let fetched
    try {
      fetched = await this.#options.fetch(url)
    } catch (error) {
      if (error instanceof DocumentFetchError) throw new ClientMetadataError(error.message)
      throw error
    }
    const client = clientOf(url, fetched.json, this.#options.permissions)
    this.#cache.set(url.href, client, fetched.maxAge ?? DEFAULT_CACHE_TTL)
    return client
  }
}
