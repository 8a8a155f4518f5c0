import { algorithmsOf, pemOfJwk, type JwtAlgorithm } from '../credentials/public-keys.js'
import { isRecord } from './jwt-claims.js'

// The key rules (which algorithms a JWK may verify, RSA sizes) live in plugins/credentials/public-keys.ts:
// the token endpoint's private_key_jwt clients use them too.
export { algorithmsOf }

export interface JwksOptions<V> {
  jwksUrl: string
  /** The configured algorithms: a key is only ever used with those of them its JWK allows. */
  algorithms: readonly JwtAlgorithm[]
  /** How long a fetched key set is used before it is fetched again (in the background). */
  cacheTtl: number
  /** Minimum time between two fetches, whatever causes them. */
  refetchInterval: number
  /** Builds what verifies tokens signed with one published key (a PEM public key) and its algorithms. */
  verifierFor: (publicKey: string, algorithms: JwtAlgorithm[]) => V
  /** Told why a fetch failed (the previous key set stays in use). */
  onFetchFailed?: (reason: string) => void
  timeout?: number
  now?: () => number
}

export interface JwksKeySet<V> {
  /**
   * The verifier for the key a token header names: a `kid` in the set, with an `alg` that key
   * allows. Only a `kid` the set does not have waits for a fetch, and only when one is due.
   */
  resolve: (kid: unknown, alg: unknown) => V | undefined | Promise<V | undefined>
}

interface PublishedKey<V> {
  algorithms: readonly JwtAlgorithm[]
  verifier: V
  /** The JWK as published, to reuse the verifier (and its cache) when a fetch returns the same key. */
  source: string
}

type PublishedKeys<V> = Map<string, Array<PublishedKey<V>>>

/** A JWK with its verifier, or nothing when the key is not one to use. */
function publishedKey<V> (jwk: Record<string, unknown>, source: string, options: JwksOptions<V>): PublishedKey<V> | undefined {
  const algorithms = algorithmsOf(jwk, options.algorithms)
  if (algorithms.length === 0) return undefined
  const pem = pemOfJwk(jwk)
  if (pem === undefined) return undefined
  try {
    return { algorithms, verifier: options.verifierFor(pem, algorithms), source }
  } catch {
    return undefined
  }
}

/** The usable keys of a fetched set by `kid`; a key published before keeps its verifier. */
function publishedKeys<V> (jwks: unknown[], options: JwksOptions<V>, before: PublishedKeys<V>): PublishedKeys<V> {
  const previous = new Map<string, PublishedKey<V>>()
  for (const entries of before.values()) for (const entry of entries) previous.set(entry.source, entry)
  const next: PublishedKeys<V> = new Map()
  for (const jwk of jwks) {
    if (!isRecord(jwk) || typeof jwk.kid !== 'string' || jwk.kid === '') continue
    const source = JSON.stringify(jwk)
    const entry = previous.get(source) ?? publishedKey(jwk, source, options)
    if (entry !== undefined) next.set(jwk.kid, [...next.get(jwk.kid) ?? [], entry])
  }
  return next
}

/** The `keys` array of the JWKS at the URL, or why it could not be had. */
async function fetchJwks (url: string, timeout: number): Promise<{ keys: unknown[] } | { failed: string }> {
  let body: unknown
  try {
    const response = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeout) })
    if (!response.ok) {
      await response.body?.cancel()
      return { failed: `HTTP ${response.status}` }
    }
    body = await response.json()
  } catch (error) {
    return { failed: error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'unreachable, or not JSON' }
  }
  return isRecord(body) && Array.isArray(body.keys) ? { keys: body.keys } : { failed: 'not a JWKS (no "keys" array)' }
}

/**
 * An identity provider's key set (RFC 7517), fetched from the configured URL (never from a token)
 * and kept whole: every key a fetch returns is usable at once, whichever token caused the fetch.
 * There is at most one fetch per `refetchInterval`, whatever tokens arrive: one caused by a `kid`
 * the set lacks, or by the set being older than `cacheTtl`. A refused token never changes the
 * set; only a successful fetch replaces it, and a failed one keeps the previous set.
 */
export function createJwksKeySet<V> (options: JwksOptions<V>): JwksKeySet<V> {
  const now = options.now ?? Date.now
  const timeout = options.timeout ?? 5000
  let keys: PublishedKeys<V> = new Map()
  let fetchedAt = Number.NEGATIVE_INFINITY
  let attemptedAt = Number.NEGATIVE_INFINITY
  let inFlight: Promise<void> | undefined

  async function load (): Promise<void> {
    const fetched = await fetchJwks(options.jwksUrl, timeout)
    if ('failed' in fetched) {
      options.onFetchFailed?.(fetched.failed)
      return
    }
    keys = publishedKeys(fetched.keys, options, keys)
    fetchedAt = now()
  }

  /** The fetch in flight, a new one when due, or nothing. */
  function refresh (): Promise<void> | undefined {
    if (inFlight !== undefined) return inFlight
    if (now() - attemptedAt < options.refetchInterval) return undefined
    attemptedAt = now()
    // Never rejects: a refresh started in the background has nobody to catch it.
    inFlight = load().catch(() => {}).finally(() => { inFlight = undefined })
    return inFlight
  }

  function find (kid: string, alg: JwtAlgorithm): V | undefined {
    return keys.get(kid)?.find((key) => key.algorithms.includes(alg))?.verifier
  }

  function isConfigured (alg: unknown): alg is JwtAlgorithm {
    return options.algorithms.some((algorithm) => algorithm === alg)
  }

  return {
    resolve (kid, alg) {
      // A made-up alg is refused before it can cost a fetch.
      if (typeof kid !== 'string' || kid === '' || !isConfigured(alg)) return undefined
      // A stale set keeps serving while a fetch replaces it.
      const pending = now() - fetchedAt >= options.cacheTtl ? refresh() : undefined
      if (keys.has(kid)) return find(kid, alg)
      const fetching = pending ?? refresh()
      return fetching === undefined ? undefined : fetching.then(() => find(kid, alg))
    }
  }
}
