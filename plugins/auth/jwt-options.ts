import { createPrivateKey, createPublicKey } from 'node:crypto'
import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { issueOptionsSchema } from '../token-issuer/options.js'

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const
export const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const
export type JwtAlgorithm = typeof HMAC_ALGORITHMS[number] | typeof PUBLIC_KEY_ALGORITHMS[number]

export const MIN_HMAC_SECRET_BYTES = 32

export function isHmac (algorithm: string): boolean {
  return (HMAC_ALGORITHMS as readonly string[]).includes(algorithm)
}

const algorithmSchema = z.enum([...HMAC_ALGORITHMS, ...PUBLIC_KEY_ALGORITHMS], {
  error: (issue) => `unknown or refused algorithm "${String(issue.input)}" (use one of ${[...HMAC_ALGORITHMS, ...PUBLIC_KEY_ALGORITHMS].join(', ')}; "none" is never accepted)`
})

const hmacSecret = z.string().refine((secret) => Buffer.byteLength(secret) >= MIN_HMAC_SECRET_BYTES,
  `an HMAC secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`)
const publicKeyPem = z.string().refine((pem) => { try { return createPublicKey(pem).type === 'public' } catch { return false } },
  'expected a PEM public key (-----BEGIN PUBLIC KEY-----)')
const privateKeyPem = z.string().refine((pem) => { try { return createPrivateKey(pem).type === 'private' } catch { return false } },
  'expected a PEM private key')

const keySchema = z.strictObject({
  kid: z.string().min(1),
  secret: hmacSecret.optional(),
  publicKey: publicKeyPem.optional(),
  /** Only to sign tokens (the `token` command, the token endpoint); verification uses publicKey. */
  privateKey: privateKeyPem.optional()
}).refine((key) => (key.secret === undefined) !== (key.publicKey === undefined), { message: 'give exactly one of secret or publicKey' })
  .refine((key) => key.privateKey === undefined || key.publicKey !== undefined, { message: 'privateKey goes with publicKey', path: ['privateKey'] })

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' })

export const jwtOptionsSchema = z.strictObject({
  realm: z.string().min(1).default('mcp'),
  /** Default: HS256 with a secret, RS256 with public keys or a JWKS. */
  algorithms: z.array(algorithmSchema).min(1).optional(),
  secret: hmacSecret.optional(),
  publicKey: publicKeyPem.optional(),
  privateKey: privateKeyPem.optional(),
  /** Several keys live at once, for rotation: the token header's `kid` picks one; the first one signs. */
  keys: z.array(keySchema).min(1).optional(),
  /** An identity provider's key set (RFC 7517), fetched whole. Needs `issuer`; never taken from a token. */
  jwksUrl: httpUrl.optional(),
  /** How long a fetched key set is used before it is fetched again (in the background; the old set serves meanwhile). */
  jwksCacheTtl: duration.default(10 * 60_000),
  /** At most one JWKS fetch per this interval, whatever causes it (so made-up kids and algs cannot flood the provider). */
  jwksRefetchInterval: duration.default(30_000),
  /** For RFC 9728 metadata: the servers that issue tokens for this resource. Default: [issuer]. */
  authorizationServers: z.array(httpUrl).min(1).optional(),
  issuer: z.string().min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clockTolerance: duration.default(30_000),
  maxAge: duration.optional(),
  permissionsClaim: z.string().min(1).default('permissions'),
  issue: issueOptionsSchema.optional()
}).transform((options) => ({
  ...options,
  algorithms: options.algorithms ?? (options.secret !== undefined || options.keys?.some((key) => key.secret !== undefined) === true ? ['HS256' as const] : ['RS256' as const])
})).superRefine((options, ctx) => {
  const sources = [options.secret, options.publicKey, options.keys, options.jwksUrl].filter((source) => source !== undefined).length
  if (sources !== 1) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of secret, publicKey, keys or jwksUrl' })
    return
  }
  if (options.issue !== undefined) {
    if (options.issuer === undefined) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'issue needs issuer: the tokens name it and the metadata publishes it (use server.publicUrl)' })
    const canSign = options.secret !== undefined || options.privateKey !== undefined || options.keys?.some((key) => key.secret !== undefined || key.privateKey !== undefined) === true
    if (!canSign) ctx.addIssue({ code: 'custom', path: ['issue'], message: 'issue needs a key that can sign: secret, privateKey, or keys with one' })
  }
  if (options.jwksUrl !== undefined && options.issuer === undefined) {
    ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'jwksUrl needs issuer: tokens are only accepted from the issuer whose keys are fetched' })
  }
  if (options.privateKey !== undefined && options.publicKey === undefined) {
    ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'privateKey goes with publicKey' })
  }
  const hmac = options.algorithms.filter(isHmac)
  if (hmac.length > 0 && hmac.length < options.algorithms.length) {
    ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'HMAC (HS*) and public-key algorithms cannot be mixed: that is how key-confusion attacks work' })
    return
  }
  const wantsHmac = hmac.length > 0
  const secrets = options.keys?.map((key, index) => ({ hmac: key.secret !== undefined, path: ['keys', index] })) ??
    [{ hmac: options.secret !== undefined, path: [options.secret !== undefined ? 'secret' : options.jwksUrl !== undefined ? 'jwksUrl' : 'publicKey'] }]
  for (const key of secrets) {
    if (key.hmac !== wantsHmac) {
      ctx.addIssue({
        code: 'custom',
        path: key.path,
        message: wantsHmac ? 'HS* algorithms need a secret, not a public key or key set' : `${options.algorithms.join(', ')} need a publicKey, not a secret`
      })
    }
  }
  if (options.keys !== undefined && new Set(options.keys.map((key) => key.kid)).size !== options.keys.length) {
    ctx.addIssue({ code: 'custom', path: ['keys'], message: 'key ids (kid) must be unique' })
  }
})

export type JwtOptions = z.input<typeof jwtOptionsSchema>
export type ParsedJwtOptions = z.output<typeof jwtOptionsSchema>

export interface VerificationKey {
  kid: string | undefined
  /** HMAC secret or PEM public key. */
  key: string
  /** HMAC secret or PEM private key, when this deployment can sign with this key. */
  signingKey: string | undefined
}

/** The keys in the order they are tried for signing: the first one with signing material signs. A JWKS has none here. */
export function verificationKeys (options: ParsedJwtOptions): VerificationKey[] {
  if (options.jwksUrl !== undefined) return []
  if (options.keys !== undefined) {
    return options.keys.map((key) => ({ kid: key.kid, key: key.secret ?? key.publicKey ?? '', signingKey: key.secret ?? key.privateKey }))
  }
  return [{ kid: undefined, key: options.secret ?? options.publicKey ?? '', signingKey: options.secret ?? options.privateKey }]
}
