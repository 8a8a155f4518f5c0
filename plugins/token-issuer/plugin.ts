import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { parseOptions } from '../../core/options.js'
import type { ScopeHierarchy } from '../../core/permissions.js'
import type { TokenSigning } from '../../core/signing.js'
import { createTokenStore, RedisTokenStore, tokenStoreOptionsSchema, type StoreConfig, type TokenStore } from '../token-store/index.js'
import { createAddressPolicy } from './address-policy.js'
import { createClientAssertions, type ClientAssertions } from './client-assertion.js'
import { ClientMetadataDocuments } from './client-metadata-documents.js'
import { createDocumentFetcher } from './client-metadata-fetch.js'
import { AuthorizationCodes } from './authorization-codes.js'
import { RememberedConsent } from './consents.js'
import { LoginSessions } from './login-sessions.js'
import { createLoginUsers, type LoginUsers } from './login-users.js'
import { issueOptionsSchema, type IssueClient, type LoginOptions } from './options.js'
import { createCodeFlowClientDirectory, type CodeFlowClientDirectory } from './code-flow-clients.js'
import { revocationKeys, TokenService } from './token-service.js'

export interface TokenIssuerOptions {
  issue: z.input<typeof issueOptionsSchema>
  signing: TokenSigning
  store?: StoreConfig
  scopeHierarchy?: ScopeHierarchy
}

/** Interactive login (authorization code + PKCE), when `issue.login` is set. */
export interface LoginFeatures {
  readonly users: LoginUsers
  readonly clients: CodeFlowClientDirectory
  readonly codes: AuthorizationCodes
  readonly sessions: LoginSessions
  /** What each user allowed each client, remembered for `options.consentTtl`. */
  readonly consents: RememberedConsent
  readonly options: LoginOptions
}

/** What the token issuer offers the routes and the auth strategies of its app. */
export interface TokenIssuer {
  readonly clients: readonly IssueClient[]
  readonly service: TokenService
  readonly store: TokenStore
  readonly signing: TokenSigning
  /** private_key_jwt client authentication; undefined when the tokens name no issuer (the only `aud` an assertion may have). */
  readonly clientAssertions: ClientAssertions | undefined
  /** RFC 8705: access tokens are bound to the client certificate of the token request. */
  readonly certificateBoundTokens: boolean
  /** The authorization code flow's parts; undefined without `issue.login`. */
  readonly login: LoginFeatures | undefined
  /** Whether a verified token has been revoked (throws when the store cannot answer: fail closed). */
  isRevoked: (claims: Readonly<Record<string, unknown>>) => Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The built-in token issuer (client credentials, refresh rotation, revocation), when registered. */
    mcpAuthTokenIssuer: TokenIssuer
  }
}

const optionsSchema = z.object({
  issue: issueOptionsSchema,
  signing: z.custom<TokenSigning>((value) => typeof value === 'object' && value !== null && typeof (value as { sign?: unknown }).sign === 'function', 'expected a token signer'),
  store: tokenStoreOptionsSchema.prefault({}),
  scopeHierarchy: z.record(z.string(), z.array(z.string())).default({})
})

function readCa (caFile: string): Buffer {
  try {
    return readFileSync(caFile)
  } catch (error) {
    throw new Error(`auth.jwt.issue.login.clientMetadataDocuments.caFile: cannot read ${caFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/** Client ID Metadata Documents, with `login.clientMetadataDocuments`; their connections close with the app. */
function publishedClients (options: LoginOptions | undefined, fastify: FastifyInstance): ClientMetadataDocuments | undefined {
  const documents = options?.clientMetadataDocuments
  if (documents === undefined || documents === false) return undefined
  const fetcher = createDocumentFetcher({
    policy: createAddressPolicy(documents.allowPrivateNetworks),
    maxBytes: documents.maxBytes,
    timeout: documents.timeout,
    ca: documents.caFile === undefined ? undefined : readCa(documents.caFile)
  })
  fastify.addHook('onClose', async () => { await fetcher.close() })
  return new ClientMetadataDocuments({ fetch: fetcher.fetch, permissions: documents.permissions, cacheTtl: documents.cacheTtl })
}

function loginFeatures (options: LoginOptions | undefined, users: LoginUsers | undefined, clients: CodeFlowClientDirectory, store: TokenStore, service: TokenService, tokenLifetime: number, fastify: FastifyInstance): LoginFeatures | undefined {
  if (options === undefined || users === undefined) return undefined
  const codes = new AuthorizationCodes(store, tokenLifetime, async (family, clientId) => {
    await service.revokeFamily(family)
    fastify.log.warn({ event: 'security', reason: 'authorization_code_reuse', principal: clientId, family }, 'a used authorization code was presented again: the tokens it issued are revoked')
  })
  return { users, clients, codes, sessions: new LoginSessions(store, options.sessionTtl), consents: new RememberedConsent(store), options }
}

/**
 * The token issuer with its store (memory, or Redis shared by every instance). Client
 * permissions are read from these options on every refresh, so narrowing a client narrows its
 * refresh tokens too. The store is closed with the app.
 */
async function tokenIssuerPlugin (fastify: FastifyInstance, options: TokenIssuerOptions): Promise<void> {
  const { issue, signing, store: storeOptions, scopeHierarchy } = parseOptions('token-issuer', optionsSchema, options)
  const store = createTokenStore(storeOptions)
  fastify.addHook('onClose', async () => { await store.close() })
  if (store instanceof RedisTokenStore && !await store.connected(3000)) {
    fastify.log.warn('the token store (Redis) is not reachable yet: token requests get 503 until it is')
  }
  const permissions = new Map(issue.clients.map((client) => [client.id, client.permissions]))
  const dynamic = issue.login?.dynamicRegistration
  const directory = createCodeFlowClientDirectory(issue.clients, store, dynamic === undefined || dynamic === false ? undefined : dynamic.permissions, publishedClients(issue.login, fastify))
  const users = issue.login === undefined ? undefined : createLoginUsers(issue.login.users)
  const service = new TokenService({
    store,
    sign: signing.sign,
    accessTokenTtl: issue.accessTokenTtl,
    refreshTokenTtl: issue.refreshTokenTtl,
    // A registered client's record is read again: its refresh tokens end with its registration.
    clientPermissions: async (clientId) => permissions.get(clientId) ?? (await directory.find(clientId))?.permissions,
    subjectPermissions: (subject) => users?.permissionsOf(subject),
    reuseInterval: issue.refreshReuseInterval,
    scopeHierarchy,
    onReuse: ({ clientId, family }) => fastify.log.warn({ event: 'security', reason: 'refresh_token_reuse', principal: clientId, family }, 'a used refresh token was presented again: its family is revoked')
  })
  const clientAssertions = signing.issuer === undefined
    ? undefined
    : createClientAssertions({ clients: issue.clients, issuer: signing.issuer, store, maxLifetime: issue.assertionMaxLifetime })
  fastify.decorate('mcpAuthTokenIssuer', {
    clients: issue.clients,
    service,
    store,
    signing,
    clientAssertions,
    certificateBoundTokens: issue.certificateBoundTokens,
    login: loginFeatures(issue.login, users, directory, store, service, issue.refreshTokenTtl + issue.accessTokenTtl, fastify),
    isRevoked: async (claims) => {
      const keys = revocationKeys(claims)
      return keys.length > 0 && await store.anyExists(keys)
    }
  } satisfies TokenIssuer)
}

export const tokenIssuer = fp(tokenIssuerPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-token-issuer' })
export default tokenIssuer
