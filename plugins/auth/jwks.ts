import buildGetJwks from 'get-jwks'

export interface JwksOptions {
  jwksUrl: string
  cacheTtl: number
  /** Minimum time between fetches caused by a `kid` the key set did not have. */
  refetchInterval: number
  now?: () => number
}

/** A token header as fast-jwt hands it to a key function. */
interface DecodedToken {
  header: { kid?: unknown, alg?: unknown }
}

export class JwksKeyUnavailable extends Error {}

/**
 * Resolves a token's verification key from a configured JWKS URL with get-jwks (fetched, cached,
 * refetched when a new `kid` appears, so a key rotation at the provider needs no restart). The
 * location comes from configuration only, never from the token. A `kid` that is not known yet
 * may cause at most one fetch per `refetchInterval`, so a stream of made-up kids cannot turn
 * this server into a load generator against the identity provider.
 */
export function createJwksKeyResolver (options: JwksOptions): (decoded: DecodedToken) => Promise<string> {
  const url = new URL(options.jwksUrl)
  const domain = `${url.origin}/`
  const getJwks = buildGetJwks({ ttl: options.cacheTtl, max: 100, jwksPath: `${url.pathname}${url.search}` })
  const now = options.now ?? Date.now
  const known = new Set<string>()
  let lastUnknownFetch = Number.NEGATIVE_INFINITY

  return async (decoded) => {
    const { kid, alg } = decoded.header
    if (typeof kid !== 'string' || kid === '' || typeof alg !== 'string') throw new JwksKeyUnavailable('no kid')
    if (!known.has(kid)) {
      if (now() - lastUnknownFetch < options.refetchInterval) throw new JwksKeyUnavailable('unknown kid, refetch not due')
      lastUnknownFetch = now()
    }
    try {
      const key = await getJwks.getPublicKey({ domain, kid, alg })
      known.add(kid)
      return key
    } catch {
      known.delete(kid)
      throw new JwksKeyUnavailable('key not found')
    }
  }
}
