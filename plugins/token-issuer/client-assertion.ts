import { createDecoder, createVerifier, TokenError } from 'fast-jwt'
import { OAuthError } from '../../core/errors.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'
import { sha256 } from '../credentials/compare.js'
import type { PublicKeyAlgorithm } from '../credentials/public-keys.js'
import type { TokenStore } from '../token-store/store.js'
import { clientKeysOf, type ClientKeyMaterial } from './client-keys.js'

// private_key_jwt (RFC 7523 §2.2, §3): a client proves who it is with a JWT signed by its own
// private key; the token endpoint checks it with the public key the client is registered with.

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

export interface AssertionClient extends ClientKeyMaterial {
  id: string
  permissions: readonly string[]
}

export interface ClientAssertionOptions {
  /** Every client; only those registered by key (publicKey or jwks) can use assertions. */
  clients: readonly AssertionClient[]
  /** This server's issuer identifier: the one `aud` an assertion may carry. */
  issuer: string
  /** Remembers used `jti`s until their assertion expires, across instances with Redis. */
  store: TokenStore
  /** The longest lifetime accepted: exp − iat, or exp − now without iat. */
  maxLifetime: number
  /** Allowed clock skew for exp, nbf and iat (default 30 s). */
  clockTolerance?: number
}

export interface ClientAssertions {
  /** The algorithms some client may sign with (RFC 8414 metadata); empty when no client is registered by key. */
  readonly algorithms: readonly PublicKeyAlgorithm[]
  /** The client a valid, unused assertion authenticates; `clientId`: the request's client_id, when sent. */
  verify: (assertion: string, clientId: string | undefined) => Promise<Principal>
}

type Verify = (token: string) => Record<string, unknown>
interface KeyClient {
  principal: Principal
  algorithms: readonly PublicKeyAlgorithm[]
  keys: Array<{ kid: string | undefined, algorithms: readonly PublicKeyAlgorithm[], verify: Verify }>
}

const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'jti']
const DEFAULT_CLOCK_TOLERANCE = 30_000
const decode = createDecoder({ complete: true })

/** Every refusal is invalid_client (RFC 7521 §4.2.1), saying what the client can fix. */
function refused (reason: string): OAuthError {
  return new OAuthError('invalid_client', `client assertion refused: ${reason}`, 401)
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Header and claims, unverified: only to pick the client whose keys then verify the whole token. */
function unverified (assertion: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  let decoded: unknown
  try {
    decoded = decode(assertion)
  } catch {
    throw refused('client_assertion is not a signed JWT')
  }
  if (!isRecord(decoded) || !isRecord(decoded.header) || !isRecord(decoded.payload)) throw refused('client_assertion is not a signed JWT')
  return { header: decoded.header, payload: decoded.payload }
}

function keyClients (options: ClientAssertionOptions): Map<string, KeyClient> {
  const clockTolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE
  const byId = new Map<string, KeyClient>()
  for (const client of options.clients) {
    const read = clientKeysOf(client)
    if ('problems' in read || read.keys.length === 0) continue
    byId.set(client.id, {
      principal: frozenPrincipal({ id: client.id, strategy: 'client', permissions: [...client.permissions] }),
      algorithms: read.algorithms,
      // No cache: every assertion is verified, and used once.
      keys: read.keys.map((key) => ({ ...key, verify: createVerifier({ key: key.pem, algorithms: [...key.algorithms], requiredClaims: REQUIRED_CLAIMS, clockTolerance }) }))
    })
  }
  return byId
}

/** fast-jwt checks the signature before any claim: a claim refusal goes only to the key's holder. */
function claimsRefusal (error: unknown): OAuthError {
  if (!(error instanceof TokenError)) return refused('its claims are not valid')
  if (error.code === TokenError.codes.expired) return refused('it has expired (exp)')
  if (error.code === TokenError.codes.inactive) return refused('it is not valid yet (nbf)')
  if (error.code === TokenError.codes.missingRequiredClaim || error.code === TokenError.codes.invalidClaimType) return refused(error.message)
  return refused('its claims are not valid')
}

/** The verified claims, with the client's key the header names (or each of its keys for the alg, without a kid). */
function verifySignature (client: KeyClient, header: Record<string, unknown>, assertion: string): Record<string, unknown> {
  const alg = header.alg
  if (!client.algorithms.some((algorithm) => algorithm === alg)) throw refused(`alg must be one this client is registered with (${client.algorithms.join(', ')})`)
  const kid = typeof header.kid === 'string' ? header.kid : undefined
  const candidates = client.keys.filter((key) => key.algorithms.some((algorithm) => algorithm === alg) && (kid === undefined || key.kid === undefined || key.kid === kid))
  if (candidates.length === 0) throw refused('no key registered for this client has this kid and alg')
  for (const key of candidates) {
    try {
      return key.verify(assertion)
    } catch (error) {
      if (error instanceof TokenError && error.code === TokenError.codes.invalidSignature) continue
      throw claimsRefusal(error)
    }
  }
  throw refused('its signature does not verify with the keys registered for this client')
}

/** The rules fast-jwt leaves to us: aud exactly our issuer (a string), a jti, a bounded lifetime. */
function checkClaims (claims: Record<string, unknown>, options: ClientAssertionOptions, now: number): { jti: string, expiresAt: number } {
  const tolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE
  if (typeof claims.aud !== 'string' || claims.aud !== options.issuer) {
    throw refused(`aud must be this server's issuer identifier "${options.issuer}", as one string (draft-ietf-oauth-rfc7523bis): not the token endpoint URL, not an array`)
  }
  const { jti, exp, iat } = claims
  if (typeof jti !== 'string' || jti === '') throw refused('jti must be a non-empty string')
  if (iat !== undefined && typeof iat !== 'number') throw refused('iat must be a number')
  if (typeof iat === 'number' && iat * 1000 > now + tolerance) throw refused('iat is in the future')
  const expiresAt = Number(exp) * 1000
  if (expiresAt - (typeof iat === 'number' ? iat * 1000 : now) > options.maxLifetime) {
    throw refused(`it may live at most ${Math.round(options.maxLifetime / 1000)} s (exp − iat, or exp − now without iat)`)
  }
  return { jti, expiresAt }
}

/**
 * Checks client assertions: the unverified iss/sub only picks the client; its registered keys
 * verify the signature (with its pinned algorithms only); then the claims; then, last, the jti is
 * remembered until the assertion expires, so an unsigned request can never use up a jti.
 */
export function createClientAssertions (options: ClientAssertionOptions): ClientAssertions {
  const clients = keyClients(options)
  const tolerance = options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE
  return {
    algorithms: [...new Set([...clients.values()].flatMap((client) => client.algorithms))],
    verify: async (assertion, clientId) => {
      const { header, payload } = unverified(assertion)
      const { iss, sub } = payload
      if (typeof iss !== 'string' || iss === '' || iss !== sub) throw refused('iss and sub must both be the client_id')
      if (clientId !== undefined && clientId !== iss) throw refused('client_id must be the iss and sub of the assertion')
      const client = clients.get(iss)
      if (client === undefined) throw refused('no client is registered with a public key (private_key_jwt) under this iss')
      const claims = verifySignature(client, header, assertion)
      const now = Date.now()
      const { jti, expiresAt } = checkClaims(claims, options, now)
      const key = `ca:${sha256(`${iss}\n${jti}`).toString('base64url')}`
      if (!await options.store.rememberOnce(key, expiresAt + tolerance - now)) throw refused('it was used before: each assertion needs a jti of its own')
      return client.principal
    }
  }
}
