import { PUBLIC_CLIENT_AUTH_METHOD } from './code-flow-clients.js'
import { isAllowedRedirectUri } from './redirect-uris.js'

// RFC 7591 §2 client metadata of a public client, as sent to the registration endpoint or
// published in a client ID metadata document.

const MAX_REDIRECT_URIS = 10
const MAX_NAME_LENGTH = 100

export class ClientMetadataProblem extends Error {
  // eslint-disable-next-line n/handle-callback-err -- RFC 7591's name for the error code
  constructor (readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata', description: string) {
    super(description)
  }
}

export interface PublicClientMetadata {
  /** client_name, when given. */
  name: string | undefined
  redirectUris: string[]
  scope?: string
}

function stringList (value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) throw new ClientMetadataProblem('invalid_client_metadata', `${name} must be an array of strings`)
  return value
}

/** The metadata of a public client (PKCE, no secret), or the problem that says what is wrong with it. */
export function publicClientMetadata (body: unknown): PublicClientMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ClientMetadataProblem('invalid_client_metadata', 'the client metadata must be a JSON object')
  const fields = body as Record<string, unknown>
  const redirectUris = stringList(fields.redirect_uris, 'redirect_uris') ?? []
  if (redirectUris.length === 0 || redirectUris.length > MAX_REDIRECT_URIS) throw new ClientMetadataProblem('invalid_redirect_uri', `give 1 to ${MAX_REDIRECT_URIS} redirect_uris`)
  if (!redirectUris.every((uri) => uri.length <= 2000 && isAllowedRedirectUri(uri))) throw new ClientMetadataProblem('invalid_redirect_uri', 'redirect_uris must be https URLs, or http on a loopback host (127.0.0.1, [::1], localhost), without a fragment')
  const method = fields.token_endpoint_auth_method
  if (method !== undefined && method !== PUBLIC_CLIENT_AUTH_METHOD) throw new ClientMetadataProblem('invalid_client_metadata', 'only public clients are accepted: token_endpoint_auth_method must be none')
  if (fields.client_secret !== undefined || fields.client_secret_expires_at !== undefined) throw new ClientMetadataProblem('invalid_client_metadata', 'a public client has no client_secret')
  if (!(stringList(fields.grant_types, 'grant_types') ?? []).every((grant) => grant === 'authorization_code' || grant === 'refresh_token')) throw new ClientMetadataProblem('invalid_client_metadata', 'grant_types: authorization_code and refresh_token only')
  if (!(stringList(fields.response_types, 'response_types') ?? []).every((type) => type === 'code')) throw new ClientMetadataProblem('invalid_client_metadata', 'response_types: code only')
  const name = fields.client_name
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH)) throw new ClientMetadataProblem('invalid_client_metadata', `client_name must be a string of 1 to ${MAX_NAME_LENGTH} characters`)
  // Control and format characters (bidi overrides among them) could make the name, or the host shown after it, read as another.
  if (typeof name === 'string' && /[\p{Cc}\p{Cf}]/u.test(name)) throw new ClientMetadataProblem('invalid_client_metadata', 'client_name must not contain control or formatting characters')
  return { name, redirectUris, ...(typeof fields.scope === 'string' ? { scope: fields.scope } : {}) }
}
