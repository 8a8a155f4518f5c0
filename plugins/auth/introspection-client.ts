import { createSigner } from 'fast-jwt'
import type { FastifyBaseLogger } from 'fastify'
import { createPrivateKey, randomUUID } from 'node:crypto'
import { MCP_AUTH_INTROSPECTION_UNAVAILABLE } from '../../core/errors.js'
import { isRecord, type Claims } from './jwt-claims.js'
import { assertionAlgorithmsFor, type ParsedIntrospectionOptions } from './introspection-options.js'

// One RFC 7662 introspection call: the token POSTed to the authorization server, which this server
// authenticates to as a client (client_secret_basic or private_key_jwt). Every way it can fail
// other than "the server answered" fails closed: MCP_AUTH_INTROSPECTION_UNAVAILABLE (503).

/** What the authorization server said: its response, or that it cannot introspect this kind of token (a refusal). */
export type IntrospectionAnswer = { response: Claims } | { unsupported: true }

export type Introspect = (token: string, log: FastifyBaseLogger) => Promise<IntrospectionAnswer>

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** A client assertion's lifetime: minted per call, so it only has to outlive one request. */
const ASSERTION_TTL = 60_000

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks of a client id and secret before they are joined for Basic. */
function formEncoded (value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

interface ClientAuthentication {
  method: 'client_secret_basic' | 'private_key_jwt'
  /** What one call adds to its headers and form: a fresh assertion (new jti) each time with private_key_jwt. */
  next: () => { headers: Record<string, string>, form: Record<string, string> }
}

function clientAuthentication (options: ParsedIntrospectionOptions): ClientAuthentication {
  const { clientId, clientSecret, privateKey } = options
  if (clientSecret !== undefined) {
    const authorization = 'Basic ' + Buffer.from(`${formEncoded(clientId)}:${formEncoded(clientSecret)}`, 'utf8').toString('base64')
    return { method: 'client_secret_basic', next: () => ({ headers: { authorization }, form: {} }) }
  }
  if (privateKey === undefined) throw new Error('introspection: no client credentials (the option schema requires one)')
  // RFC 7523 §3 (and draft-ietf-oauth-rfc7523bis): iss = sub = client id, aud = the issuer, as a string.
  const sign = createSigner({
    key: privateKey,
    algorithm: options.assertionAlgorithm ?? assertionAlgorithmsFor(createPrivateKey(privateKey))[0],
    ...(options.keyId === undefined ? {} : { kid: options.keyId }),
    iss: clientId,
    sub: clientId,
    aud: options.issuer,
    expiresIn: ASSERTION_TTL
  })
  return {
    method: 'private_key_jwt',
    next: () => ({ headers: {}, form: { client_id: clientId, client_assertion_type: ASSERTION_TYPE, client_assertion: sign({ jti: randomUUID() }) } })
  }
}

/** An OAuth error code from a response body, if it has a plausible one (it goes to the log). */
function oauthErrorOf (text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text)
    const error = isRecord(body) ? body.error : undefined
    return typeof error === 'string' && /^[\w.-]{1,64}$/.test(error) ? error : undefined
  } catch {
    return undefined
  }
}

function failureOf (error: unknown): string {
  return error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'unreachable'
}

/** The introspection endpoint's client: one POST per call, within `timeout`, answers checked for shape only. */
export function createIntrospectionClient (options: ParsedIntrospectionOptions): Introspect {
  const auth = clientAuthentication(options)
  const endpoint = options.introspectionEndpoint
  const unavailable = (log: FastifyBaseLogger, reason: string): Error => {
    log.warn({ event: 'introspection', endpoint, reason }, 'token introspection failed: the request is refused (503) until the authorization server answers')
    return new MCP_AUTH_INTROSPECTION_UNAVAILABLE()
  }

  return async (token, log) => {
    const { headers, form } = auth.next()
    let status: number
    let text: string
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ token, token_type_hint: 'access_token', ...form }),
        // Never followed: a redirect would carry the token somewhere not configured (a 3xx is a failure below).
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeout)
      })
      status = response.status
      text = await response.text()
    } catch (error) {
      throw unavailable(log, failureOf(error))
    }
    if (status >= 400 && status < 500) {
      const oauthError = oauthErrorOf(text)
      // RFC 7009's answer for a kind of token the server will not introspect (oidc-provider: a JWT access token).
      if (status === 400 && oauthError === 'unsupported_token_type') return { unsupported: true }
      log.error({ event: 'introspection', endpoint, status, error: oauthError, clientId: options.clientId, method: auth.method },
        `the authorization server refused this server's introspection request (HTTP ${status}${oauthError === undefined ? '' : ` ${oauthError}`}): check the introspection clientId and its ${auth.method === 'client_secret_basic' ? 'clientSecret' : 'privateKey'}; every bearer token is refused (503) until it is fixed`)
      throw new MCP_AUTH_INTROSPECTION_UNAVAILABLE()
    }
    if (status !== 200) throw unavailable(log, `HTTP ${status}`)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw unavailable(log, 'the answer is not JSON')
    }
    if (!isRecord(body)) throw unavailable(log, 'the answer is not a JSON object')
    return { response: body }
  }
}
