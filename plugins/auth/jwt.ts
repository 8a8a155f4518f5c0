import fastifyJwt, { type FastifyJWTOptions, type JWT } from '@fastify/jwt'
import { createVerifier } from 'fast-jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { accepted, invalid, missing, quote, type AuthOutcome, type Authenticator, type DeploymentContext, type FailureReason } from '../../core/authenticator.js'
import { createJwksKeySet } from './jwks.js'
import { addAuthHook } from './hook.js'
import { isHmac, jwtOptionsSchema, verificationKeys, type JwtOptions, type ParsedJwtOptions } from './jwt-options.js'
import { parseOptions } from '../../core/options.js'
import { isRecord, principalOf, type Claims } from './jwt-claims.js'
import type { Principal } from '../../core/principal.js'

export { jwtOptionsSchema, type JwtOptions } from './jwt-options.js'

const expired: AuthOutcome = Object.freeze({ ok: false, reason: 'token_expired' })
const revoked: AuthOutcome = Object.freeze({ ok: false, reason: 'token_revoked' })

type Verify = (token: string) => Claims

/** fast-jwt's verify options for every key: pinned algorithms, required claims, issuer and audience. */
function verifyOptions (options: ParsedJwtOptions) {
  return {
    algorithms: options.algorithms,
    ...(options.issuer === undefined ? {} : { allowedIss: options.issuer }),
    ...(options.audience === undefined ? {} : { allowedAud: options.audience }),
    clockTolerance: options.clockTolerance,
    // fast-jwt checks iss, aud and (with maxAge) iat only when present: configured, they are required.
    requiredClaims: [
      'exp',
      'sub',
      ...(options.maxAge === undefined ? [] : ['iat']),
      ...(options.issuer === undefined ? [] : ['iss']),
      ...(options.audience === undefined ? [] : ['aud'])
    ],
    cache: 1000
  }
}

function isJwt (value: unknown): value is JWT {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'verify') === 'function' && typeof Reflect.get(value, 'lookupToken') === 'function'
}

let namespaces = 0

/**
 * A @fastify/jwt instance in a child context (so its decorators cannot clash with a host app's).
 * Given a static key, its verifier is fast-jwt's with the key prepared once, and its cache.
 */
async function registerJwt (fastify: FastifyInstance, secret: FastifyJWTOptions['secret'], options: ParsedJwtOptions): Promise<JWT> {
  const namespace = `fastifyMcpAuth${++namespaces}`
  let decorator: unknown
  await fastify.register(async function jwtVerifier (child) {
    await child.register(fastifyJwt, {
      secret,
      namespace,
      // @fastify/jwt reads a number as seconds.
      verify: { ...verifyOptions(options), ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge / 1000 }) }
    })
    // @fastify/jwt's types do not model namespaces: with one, `jwt` holds a JWT per namespace name.
    decorator = Reflect.get(child.jwt, namespace)
  })
  if (!isJwt(decorator)) throw new Error('@fastify/jwt did not register its namespace')
  return decorator
}

async function staticVerifier (fastify: FastifyInstance, key: string, hmac: boolean, options: ParsedJwtOptions): Promise<{ jwt: JWT, verify: Verify }> {
  // A public key alone puts @fastify/jwt in verify-only mode.
  const jwt = await registerJwt(fastify, hmac ? key : { public: key }, options)
  return { jwt, verify: (token) => jwt.verify<Claims>(token) }
}

/** The token's JOSE header, read only to choose a key: the chosen verifier decodes the whole token strictly. */
function headerOf (token: string): Claims | undefined {
  const end = token.indexOf('.')
  if (end < 1) return undefined
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'))
    return isRecord(header) ? header : undefined
  } catch {
    return undefined
  }
}

type SelectVerifier = (token: string) => Verify | undefined | Promise<Verify | undefined>

/**
 * How a token finds its verifier: the one key; the configured key its `kid` names; or the
 * identity provider's published key its `kid` names, used only with that key's own algorithm.
 * Also a @fastify/jwt instance, whose `lookupToken` reads the Authorization header.
 */
async function verifiers (fastify: FastifyInstance, options: ParsedJwtOptions): Promise<{ reader: JWT, select: SelectVerifier }> {
  if (options.jwksUrl !== undefined) {
    const log = fastify.log
    const keySet = createJwksKeySet<Verify>({
      jwksUrl: options.jwksUrl,
      algorithms: options.algorithms,
      cacheTtl: options.jwksCacheTtl,
      refetchInterval: options.jwksRefetchInterval,
      verifierFor: (publicKey, algorithms) => createVerifier({
        ...verifyOptions(options),
        ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
        key: publicKey,
        algorithms
      }),
      onFetchFailed: (reason) => log.warn({ event: 'jwks', reason }, 'the JWKS could not be fetched: the keys fetched before stay in use')
    })
    // Never asked to verify: every token goes to a verifier of the key set.
    const reader = await registerJwt(fastify, async () => { throw new Error('JWKS tokens are verified by the key set') }, options)
    return {
      reader,
      select: (token) => {
        const header = headerOf(token)
        return header === undefined ? undefined : keySet.resolve(header.kid, header.alg)
      }
    }
  }
  const hmac = options.algorithms.every(isHmac)
  const byKid = new Map<string | undefined, Verify>()
  let reader: JWT | undefined
  for (const key of verificationKeys(options)) {
    const { jwt, verify } = await staticVerifier(fastify, key.key, hmac, options)
    reader ??= jwt
    byKid.set(key.kid, verify)
  }
  if (reader === undefined) throw new Error('no verification key')
  const only = byKid.get(undefined)
  if (only !== undefined) return { reader, select: () => only }
  return {
    reader,
    select: (token) => {
      const kid = headerOf(token)?.kid
      return typeof kid === 'string' ? byKid.get(kid) : undefined
    }
  }
}

function scopesFor (request: FastifyRequest, context: DeploymentContext): readonly string[] {
  const scopes = context.challengeScopes
  if (scopes === undefined) return []
  try {
    return scopes(request)
  } catch (error) {
    // A challenge must not fail: without scope= it is still a complete answer.
    request.log.error({ err: error }, 'challengeScopes failed; the challenge names no scope')
    return []
  }
}

function challengeFor (realm: string, reason: FailureReason, request: FastifyRequest, context: DeploymentContext): string {
  const params = [`realm=${quote(realm)}`]
  if (reason !== 'missing_credentials') params.push('error="invalid_token"')
  if (reason === 'token_expired') params.push('error_description="token expired"')
  if (reason === 'token_revoked') params.push('error_description="token revoked"')
  const metadataUrl = context.resourceMetadataUrl?.(request)
  if (metadataUrl !== undefined) params.push(`resource_metadata=${quote(metadataUrl)}`)
  const scopes = scopesFor(request, context)
  if (scopes.length > 0) params.push(`scope=${quote(scopes.join(' '))}`)
  return `Bearer ${params.join(', ')}`
}

/**
 * Signed JWTs in `Authorization: Bearer`, verified by fast-jwt (through @fastify/jwt for
 * configured keys) with pinned algorithms, required `exp` and `sub`, optional `iss`/`aud` checks
 * and a clock tolerance; keys from the config (rotated by `kid`) or from an identity provider's
 * JWKS. Every claim the strategy reads must have its registered type.
 */
export async function createJwtAuthenticator (fastify: FastifyInstance, options: JwtOptions, context: DeploymentContext = {}): Promise<Authenticator> {
  const parsed = parseOptions('jwt', jwtOptionsSchema, options)
  const { reader, select } = await verifiers(fastify, parsed)
  const maxAge = parsed.maxAge
  const tolerance = parsed.clockTolerance

  // fast-jwt's cache hands back the same claims object for a token it verified before (and only
  // while the token is valid), so the type checks and the principal are done once per token.
  const principals = new WeakMap<object, Principal | string>()
  function principalFor (claims: Claims): Principal | string {
    let principal = principals.get(claims)
    if (principal === undefined) {
      principal = principalOf(claims, parsed)
      principals.set(claims, principal)
    }
    return principal
  }

  function refuse (request: FastifyRequest, code: string | undefined, claimName?: string): AuthOutcome {
    request.log.debug({ event: 'auth', strategy: 'jwt', code, ...(claimName === undefined ? {} : { claim: claimName }) }, 'token refused')
    return code === 'FAST_JWT_EXPIRED' ? expired : invalid
  }

  async function authenticate (request: FastifyRequest): Promise<AuthOutcome> {
    let token: string
    try {
      token = reader.lookupToken(request)
    } catch (error) {
      return (error as { code?: string }).code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER' ? missing : invalid
    }
    let claims: Claims
    try {
      const verify = await select(token)
      if (verify === undefined) return refuse(request, 'MCP_AUTH_NO_KEY')
      claims = verify(token)
    } catch (error) {
      return refuse(request, (error as { code?: string }).code)
    }
    const principal = principalFor(claims)
    if (typeof principal === 'string') return refuse(request, 'MCP_AUTH_CLAIM_TYPE', principal)
    // With maxAge, an iat in the future would stretch the age limit (maxAge makes iat required).
    if (maxAge !== undefined && Number(claims.iat) * 1000 > Date.now() + tolerance) return refuse(request, 'MCP_AUTH_IAT_FUTURE')
    // Outside the try: a store that cannot answer is an error (503), not a refused token.
    if (context.isRevoked !== undefined && await context.isRevoked(claims)) return revoked
    return accepted(principal)
  }

  return {
    strategy: 'jwt',
    challengeFamily: 'oauth-bearer',
    authenticate,
    challenge: (reason: FailureReason, request: FastifyRequest) => challengeFor(parsed.realm, reason, request, context)
  }
}

/** Plugin options: the strategy's options, plus what it should say about the deployment in challenges. */
export type JwtPluginOptions = JwtOptions & { deployment?: DeploymentContext }

async function jwtAuthStrategy (fastify: FastifyInstance, { deployment, ...options }: JwtPluginOptions): Promise<void> {
  addAuthHook(fastify, [await createJwtAuthenticator(fastify, options, deployment)])
}

/** JWT bearer tokens verified with @fastify/jwt; keys rotate through `keys[].kid`. */
export const jwtAuth = fp(jwtAuthStrategy, { fastify: '5.x', name: 'fastify-mcp-auth-jwt' })
export default jwtAuth
