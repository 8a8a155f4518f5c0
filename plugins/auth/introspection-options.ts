import { createPrivateKey, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { PUBLIC_KEY_ALGORITHMS, type JwtAlgorithm } from './jwt-options.js'

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })

function privateKeyOf (pem: string): KeyObject | undefined {
  try {
    const key = createPrivateKey(pem)
    return key.type === 'private' ? key : undefined
  } catch {
    return undefined
  }
}

/** The algorithms a private key can sign client assertions with; the first is the default. */
export function assertionAlgorithmsFor (key: KeyObject): JwtAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === 'prime256v1' ? ['ES256'] : curve === 'secp384r1' ? ['ES384'] : curve === 'secp521r1' ? ['ES512'] : []
    }
    case 'ed25519': return ['EdDSA']
    default: return []
  }
}

const introspectionObject = z.strictObject({
  /** The authorization server's introspection endpoint (RFC 7662), e.g. `${issuer}/token/introspection`. */
  introspectionEndpoint: httpUrl,
  /** The authorization server's issuer identifier: an `iss` in a response must equal it; the audience of client assertions; named in the RFC 9728 metadata. */
  issuer: httpUrl,
  /** This resource (the MCP endpoint's URL): a token's `aud` must contain one of these. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** `false`: a token whose introspection names no `aud` at all is accepted (one that names others is still refused). */
  requireAudience: z.boolean().default(true),
  /** This resource server's client id at the authorization server. */
  clientId: z.string().min(1),
  /** client_secret_basic: the client secret (or `clientSecretFile`). */
  clientSecret: z.string().min(1).optional(),
  /** private_key_jwt (RFC 7523): the PEM private key the client assertions are signed with (or `privateKeyFile`). */
  privateKey: z.string().refine((pem) => privateKeyOf(pem) !== undefined, 'expected a PEM private key').optional(),
  /** The `kid` of that key, when the authorization server knows several. */
  keyId: z.string().min(1).optional(),
  /** The assertion's algorithm; default: the first the key allows (RS256, ES256/384/512, EdDSA). */
  assertionAlgorithm: z.enum(PUBLIC_KEY_ALGORITHMS).optional(),
  /** How long one introspection call may take before the request is answered 503. */
  timeout: duration.default(5000),
  /** How long an accepted token's answer is reused (never past the token's `exp`): the most a revocation can lag. `0`: no cache. */
  maxCacheTtl: duration.default(60_000),
  /** How many accepted tokens are remembered at most (least recently used out first). */
  cacheSize: z.number().int().nonnegative().default(10_000),
  /** The member of the introspection response that holds a permission array; the `scope` string is read too. */
  permissionsClaim: z.string().min(1).default('permissions'),
  realm: z.string().min(1).default('mcp')
})

function checkClientAuthentication (options: z.output<typeof introspectionObject>, ctx: z.RefinementCtx): void {
  if ((options.clientSecret === undefined) === (options.privateKey === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'give exactly one of clientSecret (client_secret_basic) or privateKey (private_key_jwt)' })
    return
  }
  const key = options.privateKey === undefined ? undefined : privateKeyOf(options.privateKey)
  if (key === undefined) {
    for (const name of ['keyId', 'assertionAlgorithm'] as const) {
      if (options[name] !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `${name} goes with privateKey` })
    }
    return
  }
  const allowed = assertionAlgorithmsFor(key)
  if (allowed.length === 0) ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'expected an RSA, EC (P-256, P-384, P-521) or Ed25519 private key' })
  else if (options.assertionAlgorithm !== undefined && !allowed.includes(options.assertionAlgorithm)) {
    ctx.addIssue({ code: 'custom', path: ['assertionAlgorithm'], message: `this key signs with ${allowed.join(', ')}` })
  }
}

export const introspectionOptionsSchema = introspectionObject.superRefine(checkClientAuthentication)

export type IntrospectionOptions = z.input<typeof introspectionOptionsSchema>
export type ParsedIntrospectionOptions = z.output<typeof introspectionOptionsSchema>
