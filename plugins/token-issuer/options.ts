import { z } from 'zod'
import { duration } from '../../core/duration.js'
import { permissionsSchema } from '../../core/options.js'
import { PUBLIC_KEY_ALGORITHMS } from '../credentials/public-keys.js'
import { parsePasswordHash } from '../credentials/password-hash.js'
import { isNetwork } from './address-policy.js'
import { clientKeysOf, MAX_CLIENT_KEYS } from './client-keys.js'
import { isAllowedRedirectUri } from './redirect-uris.js'

const MAX_REDIRECT_URIS = 10

const redirectUri = z.string().max(2000).refine(isAllowedRedirectUri, 'expected an absolute https URL, or http on a loopback host (127.0.0.1, [::1], localhost), without a fragment')

const assertionAlgorithm = z.enum(PUBLIC_KEY_ALGORITHMS, {
  error: (issue) => `algorithm "${String(issue.input)}" is refused for private_key_jwt: asymmetric ones only (${PUBLIC_KEY_ALGORITHMS.join(', ')}); never none or HS*`
})

const issueClientObject = z.strictObject({
  id: z.string().min(1),
  /** client_secret_basic / client_secret_post: the scrypt hash of the client secret. */
  secretHash: z.string().refine((hash) => parsePasswordHash(hash) !== undefined, 'expected the output of `fastify-mcp-auth hash-password`').optional(),
  secret: z.never({ error: 'plain client secrets are refused: store secretHash, the output of `fastify-mcp-auth hash-password`' }).optional(),
  /** private_key_jwt (RFC 7523 §2.2): the client's public key, PEM. */
  publicKey: z.string().min(1).optional(),
  /** private_key_jwt: the client's public keys as a JWKS (several keys, for rotation). */
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_CLIENT_KEYS) }).optional(),
  /** private_key_jwt: the algorithms its assertions may use (default: each key's own). */
  algorithms: z.array(assertionAlgorithm).min(1).optional(),
  /**
   * A client of the authorization code flow: its exact redirect URIs. Without secretHash, publicKey
   * or jwks it is a public client (token_endpoint_auth_method none); with one, a confidential one.
   */
  redirectUris: z.array(redirectUri).min(1).max(MAX_REDIRECT_URIS).optional(),
  /** What the consent page calls a client of the code flow (default: its id). */
  name: z.string().min(1).max(100).optional(),
  permissions: permissionsSchema
})

type IssueClientInput = z.output<typeof issueClientObject>

/**
 * One way to authenticate per client, and keys that can verify the algorithms it is pinned to. A
 * client with redirectUris may have none (a public client of the code flow) or one (a
 * confidential client of the code flow); every other client has exactly one.
 */
function checkClientAuthentication (client: IssueClientInput, ctx: z.RefinementCtx): void {
  const methods = [client.secretHash, client.publicKey, client.jwks].filter((method) => method !== undefined).length
  const codeFlow = client.redirectUris !== undefined
  if (!codeFlow && client.name !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'name is for clients of the authorization code flow (with redirectUris)' })
  if (codeFlow && methods === 0) {
    if (client.algorithms !== undefined) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'algorithms is for clients registered by key (publicKey or jwks); a client with redirectUris and no key is a public client' })
    return
  }
  if (methods !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: codeFlow
        ? 'a client with redirectUris is public (no secretHash, publicKey or jwks: PKCE only) or confidential with exactly one of them (client_secret_basic/post or private_key_jwt at the token endpoint, and PKCE)'
        : 'a client authenticates one way: give exactly one of secretHash (client_secret_basic/post) or publicKey or jwks (private_key_jwt)'
    })
    return
  }
  if (client.secretHash !== undefined) {
    if (client.algorithms !== undefined) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'algorithms is for clients registered by key (publicKey or jwks)' })
    return
  }
  const kids = client.jwks?.keys.map((jwk) => jwk.kid).filter((kid) => kid !== undefined) ?? []
  if (new Set(kids).size !== kids.length) ctx.addIssue({ code: 'custom', path: ['jwks', 'keys'], message: 'key ids (kid) must be unique' })
  const read = clientKeysOf(client)
  if (!('problems' in read)) return
  for (const { index, message } of read.problems) {
    ctx.addIssue({ code: 'custom', path: client.jwks === undefined ? ['publicKey'] : ['jwks', 'keys', index], message })
  }
}

const issueClientSchema = issueClientObject.superRefine(checkClientAuthentication)

const loginUserSchema = z.strictObject({
  username: z.string().min(1).max(200),
  /** The scrypt hash of the password, as for Basic users (`passwordHashFile` reads it from a file). */
  passwordHash: z.string().refine((hash) => parsePasswordHash(hash) !== undefined, 'expected the output of `fastify-mcp-auth hash-password`'),
  password: z.never({ error: 'plain passwords are refused: store passwordHash, the output of `fastify-mcp-auth hash-password`' }).optional(),
  permissions: permissionsSchema
})

const DAY = 24 * 60 * 60_000

/**
 * Client ID Metadata Documents: a client_id that is an https URL names a JSON document this
 * server fetches (with SSRF protections) instead of a registration.
 */
const clientMetadataDocumentsSchema = z.strictObject({
  /** The permissions such a client may be granted at most (the user's own bound them too). */
  permissions: permissionsSchema.default(['*']),
  /** The largest document accepted; the draft recommends 5 KB. */
  maxBytes: z.coerce.number().int().positive().max(64 * 1024).default(5 * 1024),
  /** Connecting, the answer and its body together. */
  timeout: duration.refine((ms) => ms > 0 && ms <= 30_000, 'expected a duration above zero and at most 30s').default(5000),
  /** The longest a fetched document is kept, whatever its Cache-Control says (at most 24h). */
  cacheTtl: duration.refine((ms) => ms <= DAY, 'at most 24h').default(DAY),
  /** Private or loopback networks (CIDR) that documents may nevertheless be fetched from; none by default. */
  allowPrivateNetworks: z.array(z.string().refine(isNetwork, 'expected an address or CIDR network, such as 10.0.0.0/8')).default([]),
  /** PEM file of the certificate authorities to trust for these fetches instead of Node's bundled ones. */
  caFile: z.string().min(1).optional()
})

/** Interactive login: the authorization code flow with PKCE, a login page and a consent page. */
export const loginOptionsSchema = z.strictObject({
  users: z.array(loginUserSchema).min(1, 'at least one user is required')
    .refine((users) => new Set(users.map((u) => u.username.normalize('NFC'))).size === users.length, 'usernames must be unique'),
  /** How long a sign-in lasts (the session cookie and its server-side record). */
  sessionTtl: duration.refine((ms) => ms > 0, 'expected a duration above zero').default(10 * 60_000),
  /** How long a user's consent to a client is remembered; 0: ask every time. */
  consentTtl: duration.default(30 * 24 * 60 * 60_000),
  /** RFC 7591 dynamic client registration at /oauth/register (public clients only); off unless set. */
  dynamicRegistration: z.union([z.literal(false), z.strictObject({
    /** How long a registration lives. */
    ttl: duration.refine((ms) => ms > 0, 'expected a duration above zero').default(30 * 24 * 60 * 60_000),
    /** Registrations per client address per timeWindow. */
    max: z.coerce.number().int().positive().default(10),
    timeWindow: duration.default(60 * 60_000),
    /** The permissions a registered client may be granted at most (the user's own bound them too). */
    permissions: permissionsSchema.default(['*'])
  })]).default(false),
  /** Clients known by the URL of their metadata document (the 2026-07-28 recommended way); off unless set. */
  clientMetadataDocuments: z.union([z.literal(false), clientMetadataDocumentsSchema]).default(false),
  /** Requests to the authorization endpoint per client address per timeWindow (each may start a session or a fetch). */
  authorizeLimit: z.strictObject({
    max: z.coerce.number().int().positive(),
    timeWindow: duration
  }).default({ max: 60, timeWindow: 60_000 })
})

export type LoginOptions = z.output<typeof loginOptionsSchema>

/** The built-in token endpoint: client credentials and refresh tokens, for deployments that sign their own tokens. */
export const issueOptionsSchema = z.strictObject({
  clients: z.array(issueClientSchema).default([])
    .refine((clients) => new Set(clients.map((c) => c.id)).size === clients.length, 'client ids must be unique'),
  login: loginOptionsSchema.optional(),
  accessTokenTtl: duration.default(15 * 60_000),
  refreshTokenTtl: duration.default(24 * 60 * 60_000),
  /**
   * A used refresh token presented again within this time of its rotation is a duplicate
   * submission (refused, nothing revoked); later, it is reuse and its whole family is revoked.
   */
  refreshReuseInterval: duration.default(2000),
  /** private_key_jwt: the longest a client assertion may live (exp − iat, or exp − now without iat). */
  assertionMaxLifetime: duration.refine((ms) => ms > 0, 'expected a duration above zero').default(5 * 60_000),
  /**
   * RFC 8705: bind every access token to the TLS client certificate the token request came with
   * (`cnf.x5t#S256`); a request without a verified certificate is refused. Needs server.tls.caFile.
   */
  certificateBoundTokens: z.boolean().default(false)
}).superRefine((issue, ctx) => {
  if (issue.clients.length === 0 && (issue.login === undefined || (issue.login.dynamicRegistration === false && issue.login.clientMetadataDocuments === false))) {
    ctx.addIssue({ code: 'custom', path: ['clients'], message: 'at least one client is required (or login.dynamicRegistration or login.clientMetadataDocuments)' })
  }
  if (issue.login === undefined && issue.clients.some((client) => client.redirectUris !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['login'], message: 'clients with redirectUris need login (users who sign in)' })
  }
})

export type IssueOptions = z.output<typeof issueOptionsSchema>
export type IssueClient = IssueOptions['clients'][number]
