import { createPrivateKey, createPublicKey } from 'node:crypto'
import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { issueOptionsSchema } from '../token-issuer/options.js'
import { MCP_AUTH_INVALID_OPTION } from '../../core/errors.js'
import { HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS, type JwtAlgorithm } from '../credentials/public-keys.js'

export { HMAC_ALGORITHMS, PUBLIC_KEY_ALGORITHMS, type JwtAlgorithm } from '../credentials/public-keys.js'

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

/** What one issuer's tokens are checked with: its keys, algorithms, audience and claim mapping. */
const issuerShape = {
  /** Default: HS256 with a secret, RS256 with public keys or a JWKS. */
  algorithms: z.array(algorithmSchema).min(1).optional(),
  secret: hmacSecret.optional(),
  publicKey: publicKeyPem.optional(),
  privateKey: privateKeyPem.optional(),
  /** Several keys live at once, for rotation: the token header's `kid` picks one; the first one signs. */
  keys: z.array(keySchema).min(1).optional(),
  /** An identity provider's key set (RFC 7517), fetched whole. Needs `issuer`; never taken from a token. */
  jwksUrl: httpUrl.optional(),
  /** For RFC 9728 metadata: the servers that issue tokens for this resource. Default: [issuer]. */
  authorizationServers: z.array(httpUrl).min(1).optional(),
  issuer: z.string().min(1).optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The claim that holds the permissions (an array of strings); `scope` is read too. */
  permissionsClaim: z.string().min(1).default('permissions'),
  /** The claim that names the principal (a non-empty string). */
  subjectClaim: z.string().min(1).default('sub')
}

/** One of several trusted issuers: `issuer` is required, and tokens are routed to it by their `iss`. */
const issuerEntrySchema = z.strictObject({ ...issuerShape, issuer: z.string().min(1) })

const sharedShape = {
  realm: z.string().min(1).default('mcp'),
  /** How long a fetched key set is used before it is fetched again (in the background; the old set serves meanwhile). */
  jwksCacheTtl: duration.default(10 * 60_000),
  /** At most one JWKS fetch per this interval, whatever causes it (so made-up kids and algs cannot flood the provider). */
  jwksRefetchInterval: duration.default(30_000),
  clockTolerance: duration.default(30_000),
  maxAge: duration.optional()
}

const withDefaultAlgorithms = <O extends { algorithms?: JwtAlgorithm[] | undefined, secret?: string | undefined, keys?: ReadonlyArray<{ secret?: string | undefined }> | undefined }> (options: O) => ({
  ...options,
  algorithms: options.algorithms ?? (options.secret !== undefined || options.keys?.some((key) => key.secret !== undefined) === true ? ['HS256' as const] : ['RS256' as const])
})

type SingleIssuer = z.output<typeof singleIssuerObject> & { algorithms: JwtAlgorithm[] }

function checkSingleIssuer (options: SingleIssuer, ctx: z.RefinementCtx): void {
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
}

const singleIssuerObject = z.strictObject({ ...sharedShape, ...issuerShape, issue: issueOptionsSchema.optional() })

/** One issuer's complete options (the shared settings and its own): what a verifier is built from. */
export const singleIssuerSchema = singleIssuerObject.transform(withDefaultAlgorithms).superRefine(checkSingleIssuer)

/** Settings that belong inside each issuer when `issuers` is given. */
const PER_ISSUER = ['algorithms', 'secret', 'publicKey', 'privateKey', 'keys', 'jwksUrl', 'authorizationServers', 'issuer', 'audience', 'issue'] as const

/** Several trusted issuers: each checked as a complete single-issuer configuration, issuers unique. */
function checkIssuers (options: z.output<typeof jwtObject>, issuers: ReadonlyArray<z.output<typeof issuerEntrySchema>>, ctx: z.RefinementCtx): void {
  for (const name of PER_ISSUER) {
    if (options[name] !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `with issuers, give ${name} inside each issuer${name === 'issue' ? ' (the token endpoint signs for one issuer: not with issuers)' : ''}` })
  }
  const { issuers: _issuers, ...shared } = options
  issuers.forEach((issuer, index) => {
    const result = singleIssuerSchema.safeParse({ ...pickShared(shared), ...issuer })
    for (const issue of result.success ? [] : result.error.issues) ctx.addIssue({ code: 'custom', path: ['issuers', index, ...issue.path], message: issue.message })
  })
  if (new Set(issuers.map((issuer) => issuer.issuer)).size !== issuers.length) ctx.addIssue({ code: 'custom', path: ['issuers'], message: 'issuers must be unique' })
}

function pickShared (options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(sharedShape).filter((key) => options[key] !== undefined).map((key) => [key, options[key]]))
}

const jwtObject = z.strictObject({
  ...sharedShape,
  ...issuerShape,
  issue: issueOptionsSchema.optional(),
  /** Several trusted issuers (multi-tenant), each with its own keys, audience, algorithms and claim mapping. */
  issuers: z.array(issuerEntrySchema).min(1).optional()
})

export const jwtOptionsSchema = jwtObject.transform((options) => options.issuers === undefined ? withDefaultAlgorithms(options) : options)
  .superRefine((options, ctx) => {
    if (options.issuers !== undefined) checkIssuers(options, options.issuers, ctx)
    else checkSingleIssuer(withDefaultAlgorithms(options), ctx)
  })

export type JwtOptions = z.input<typeof jwtOptionsSchema>
export type ParsedJwtOptions = z.output<typeof singleIssuerSchema>

/** The options of a configuration that signs its own tokens: one issuer, never `issuers`. */
export function signingIssuer (options: z.output<typeof jwtOptionsSchema>): ParsedJwtOptions {
  if (options.issuers !== undefined) throw new MCP_AUTH_INVALID_OPTION('jwt', 'issuers: this deployment signs no tokens of its own with several issuers; give one issuer and its signing key')
  return singleIssuerSchema.parse(options)
}

/** Each issuer's complete options: the one of a single-issuer configuration, or one per `issuers` entry. */
export function issuersOf (options: z.output<typeof jwtOptionsSchema>): ParsedJwtOptions[] {
  if (options.issuers === undefined) return [singleIssuerSchema.parse(options)]
  const { issuers, ...shared } = options
  return issuers.map((issuer) => singleIssuerSchema.parse({ ...pickShared(shared), ...issuer }))
}

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
