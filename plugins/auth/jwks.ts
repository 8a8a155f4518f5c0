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
 * location comes from configuration only, never from the token. After a fetch that did not find
 * its `kid`, unknown kids are refused without a fetch for `refetchInterval`, so a stream of
 * made-up kids costs the identity provider one request per interval.
 */
export function createJwksKeyResolver (options: JwksOptions): (decoded: DecodedToken) => Promise<string> {
  const url = new URL(options.jwksUrl)
  const domain = `${url.origin}/`
  const getJwks = buildGetJwks({ ttl: options.cacheTtl, max: 100, jwksPath: `${url.pathname}${url.search}` })
  const now = options.now ?? Date.now
  const known = new Set<string>()
  // When a fetch last failed to find a kid; until refetchInterval has passed, unknown kids are
  // refused without asking the provider. A fetch that finds its kid does not count.
  let lastMiss = Number.NEGATIVE_INFINITY

  return async (decoded) => {
    const { kid, alg } = decoded.header
    if (typeof kid !== 'string' || kid === '' || typeof alg !== 'string') throw new JwksKeyUnavailable('no kid')
    if (!known.has(kid) && now() - lastMiss < options.refetchInterval) throw new JwksKeyUnavailable('unknown kid, refetch not due')
    try {
      const key = await getJwks.getPublicKey({ domain, kid, alg })
      known.add(kid)
      return key
    } catch {
      if (!known.has(kid)) lastMiss = now()
      known.delete(kid)
      throw new JwksKeyUnavailable('key not found')
    }
  }
}
