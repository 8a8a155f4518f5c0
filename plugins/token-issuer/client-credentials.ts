import basicAuthPlugin from '@fastify/basic-auth'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { HashedSecretVerifier } from '../credentials/hashed-secrets.js'
import type { FailedAuthThrottle } from '../../core/authenticator.js'
import { frozenPrincipal, type Principal } from '../../core/principal.js'
import { FailedAuthThrottled, OAuthError } from '../../core/errors.js'
import { JWT_BEARER_ASSERTION_TYPE, type ClientAssertions } from './client-assertion.js'

export interface ClientEntry {
  id: string
  /** Set for clients that authenticate with a secret; the others are registered by key (see client-assertion.ts). */
  secretHash?: string | undefined
  permissions: readonly string[]
}

type BasicAuthVerify = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void

/** RFC 6749 §3.1: an empty parameter is as if it were not sent. */
function given (value: unknown): boolean {
  return value !== undefined && value !== ''
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before the Basic encoding. */
function formDecode (value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

/**
 * private_key_jwt: `client_assertion_type` and `client_assertion` together, and no other method.
 * A signature check is cheap: with a throttle, a refused assertion is counted for the address
 * after its check, and past the failed-auth limit the answer is 429 (as for a wrong API key).
 */
async function assertedClient (request: FastifyRequest, body: Record<string, unknown>, assertions: ClientAssertions | undefined, throttle: FailedAuthThrottle | undefined): Promise<Principal> {
  if (request.headers.authorization !== undefined || given(body.client_secret)) throw new OAuthError('invalid_request', 'use one client authentication method, not both')
  const { client_assertion_type: type, client_assertion: assertion, client_id: clientId } = body
  if (!given(type) || !given(assertion)) throw new OAuthError('invalid_request', 'client_assertion and client_assertion_type go together')
  try {
    if (type !== JWT_BEARER_ASSERTION_TYPE) throw new OAuthError('invalid_client', `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`, 401)
    if (assertions === undefined) throw new OAuthError('invalid_client', 'client assertions are not accepted here', 401)
    return await assertions.verify(String(assertion), given(clientId) ? String(clientId) : undefined)
  } catch (error) {
    const wait = error instanceof OAuthError && error.error === 'invalid_client' ? await throttle?.recordFailure(request) : undefined
    throw wait === undefined ? error : new FailedAuthThrottled(wait)
  }
}

/**
 * Authenticates an OAuth client at the token and revocation endpoints: HTTP Basic
 * (client_secret_basic, parsed by @fastify/basic-auth), client_id/client_secret in the body
 * (client_secret_post) or a signed JWT (private_key_jwt, with `assertions`), one method per
 * request. Secrets are scrypt hashes, checked like Basic users' passwords; with a throttle, every
 * check that runs the KDF is counted first, for the address and for the account `client:<id>`,
 * and refused past the failed-auth limit (FailedAuthThrottled).
 */
export async function createClientAuthenticator (fastify: FastifyInstance, clients: readonly ClientEntry[], throttle?: FailedAuthThrottle, assertions?: ClientAssertions): Promise<(request: FastifyRequest, reply: FastifyReply) => Promise<Principal>> {
  const verifier = new HashedSecretVerifier<Principal>(
    clients.flatMap((client) => client.secretHash === undefined
      ? []
      : [[client.id, client.secretHash, frozenPrincipal({ id: client.id, strategy: 'client', permissions: [...client.permissions] })] as const]),
    { cacheTtl: 60_000, cacheSize: 1000, kdfConcurrency: 2, kdfQueue: 64 }
  )
  const fromHeader = new WeakMap<FastifyRequest, { id: string, secret: string }>()
  let parse: BasicAuthVerify | undefined
  await fastify.register(async function clientBasicParser (child) {
    await child.register(basicAuthPlugin, {
      authenticate: false,
      validate: async (id: string, secret: string, request: FastifyRequest) => { fromHeader.set(request, { id, secret }) }
    })
    parse = child.basicAuth
  })
  const parseBasic = parse as BasicAuthVerify
  const invalidClient = (): OAuthError => new OAuthError('invalid_client', 'client authentication failed', 401)

  return async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>
    if (given(body.client_assertion) || given(body.client_assertion_type)) return await assertedClient(request, body, assertions, throttle)
    const inBody = given(body.client_id) || given(body.client_secret)
    const header = request.headers.authorization
    let id: unknown
    let secret: unknown
    if (header !== undefined) {
      if (inBody) throw new OAuthError('invalid_request', 'use one client authentication method, not both')
      await new Promise<void>((resolve) => parseBasic(request, reply, () => resolve()))
      const credentials = fromHeader.get(request)
      fromHeader.delete(request)
      if (credentials === undefined) throw invalidClient()
      try {
        id = formDecode(credentials.id)
        secret = formDecode(credentials.secret)
      } catch {
        throw invalidClient()
      }
    } else {
      id = body.client_id
      secret = body.client_secret
    }
    if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '') throw invalidClient()
    const account = `client:${id}`
    const client = await verifier.verify(id, secret, throttle === undefined ? undefined : async () => { await throttle.beforeCostlyCheck(request, account) })
    if (client === undefined) throw invalidClient()
    return client
  }
}
