/** Quotes a value for an auth-param (RFC 9110 quoted-string). */
export function quote (value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** The auth-params of an RFC 6750 `Bearer` challenge; an absent one, or no scope at all, is left out. */
export interface BearerChallenge {
  realm?: string | undefined
  error?: string | undefined
  errorDescription?: string | undefined
  /** RFC 9728: where the client finds the protected resource metadata. */
  resourceMetadata?: string | undefined
  /** The scopes the request needs, named in one space-separated `scope=`. */
  scope?: readonly string[] | undefined
}

const PARAM_NAMES: Readonly<Record<keyof BearerChallenge, string>> = {
  realm: 'realm',
  error: 'error',
  errorDescription: 'error_description',
  resourceMetadata: 'resource_metadata',
  scope: 'scope'
}

function isParam (key: string): key is keyof BearerChallenge {
  return Object.hasOwn(PARAM_NAMES, key)
}

function paramValue (value: string | readonly string[] | undefined): string | undefined {
  if (typeof value === 'string') return value
  return value === undefined || value.length === 0 ? undefined : value.join(' ')
}

/**
 * A `WWW-Authenticate: Bearer` challenge, every value quoted. Parameters come in the order the
 * caller lists them: order means nothing to RFC 6750, but the 401 challenges have always named
 * resource_metadata before scope and the 403 one after, and each keeps its exact spelling.
 */
export function bearerChallenge (params: BearerChallenge): string {
  const parts: string[] = []
  for (const key of Object.keys(params)) {
    if (!isParam(key)) continue
    const value = paramValue(params[key])
    if (value !== undefined) parts.push(`${PARAM_NAMES[key]}=${quote(value)}`)
  }
  return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`
}
