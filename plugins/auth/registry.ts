import { z } from 'zod'
import type { StrategyEntry } from '../../core/strategy.js'
import type { IssueOptions } from '../token-issuer/options.js'
import type { TokenSigning } from '../../core/signing.js'
import { createTokenSigning } from './jwt-signer.js'
import { apiKeyOptionsSchema, createApiKeyAuthenticator } from './api-key.js'
import { basicOptionsSchema, createBasicAuthenticator } from './basic.js'
import { bearerOptionsSchema, createBearerAuthenticator } from './bearer.js'
import { createJwtAuthenticator, jwtOptionsSchema } from './jwt.js'
import { issuersOf } from './jwt-options.js'
import { createIntrospectionAuthenticator, introspectionOptionsSchema } from './introspection.js'
import { createMtlsAuthenticator, mtlsOptionsSchema } from './mtls.js'
import { createNoneAuthenticator, noneOptionsSchema } from './none.js'
import { createTrustedHeaderAuthenticator, trustedHeaderOptionsSchema } from './trusted-header.js'

/** Keeps an entry's literal `configKey` and schema type, from which the config section types are built. */
function entry<K extends string, S extends z.ZodType> (e: StrategyEntry<S> & { readonly configKey: K }): StrategyEntry<S> & { readonly configKey: K } {
  return e
}

/** Every strategy the config file can name: the only place that lists them. Adding a strategy adds one entry here. */
export const strategies = {
  'api-key': entry({
    configKey: 'apiKey',
    schema: apiKeyOptionsSchema,
    sectionOptional: false,
    create: createApiKeyAuthenticator,
    secretFields: ['key'],
    credentialEnv: 'CALCULATOR_API_KEY',
    credentialHeaders: (options) => [options.header].flat().map((name) => name.toLowerCase()),
    presentCredential: (credential, options) => {
      const [header] = [options.header].flat()
      return header === undefined ? undefined : { [header.toLowerCase()]: credential }
    }
  }),
  bearer: entry({
    configKey: 'bearer',
    schema: bearerOptionsSchema,
    sectionOptional: false,
    create: createBearerAuthenticator,
    secretFields: ['token'],
    presentCredential: (credential) => ({ authorization: `Bearer ${credential}` }),
    recognizes: (credential) => !credential.includes(':')
  }),
  basic: entry({
    configKey: 'basic',
    schema: basicOptionsSchema,
    sectionOptional: false,
    create: createBasicAuthenticator,
    secretFields: ['passwordHash'],
    presentCredential: (credential) => ({ authorization: 'Basic ' + Buffer.from(credential, 'utf8').toString('base64') }),
    recognizes: (credential) => credential.includes(':')
  }),
  jwt: entry({
    configKey: 'jwt',
    schema: jwtOptionsSchema,
    sectionOptional: false,
    create: createJwtAuthenticator,
    secretFields: ['secret', 'publicKey', 'privateKey', 'secretHash'],
    presentCredential: (credential) => ({ authorization: `Bearer ${credential}` }),
    recognizes: (credential) => !credential.includes(':'),
    // Only URLs can name an authorization server: an issuer such as "my-service" publishes nothing.
    authorizationServers: (options) => issuersOf(options).flatMap((issuer) => issuer.authorizationServers ?? (issuer.issuer !== undefined && /^https?:\/\//.test(issuer.issuer) ? [issuer.issuer] : [])),
    // Certificate-bound tokens (RFC 8705 cnf) are checked against the TLS client certificate;
    // issuing them needs one at the token endpoint.
    clientCertificates: (options) => options.issue?.certificateBoundTokens === true ? 'required' : 'optional'
  }),
  introspection: entry({
    configKey: 'introspection',
    schema: introspectionOptionsSchema,
    sectionOptional: false,
    create: createIntrospectionAuthenticator,
    secretFields: ['clientSecret', 'privateKey'],
    presentCredential: (credential) => ({ authorization: `Bearer ${credential}` }),
    recognizes: (credential) => !credential.includes(':'),
    authorizationServers: (options) => [options.issuer]
  }),
  'trusted-header': entry({
    configKey: 'trustedHeader',
    schema: trustedHeaderOptionsSchema,
    sectionOptional: false,
    create: createTrustedHeaderAuthenticator,
    secretFields: [],
    credentialHeaders: (options) => [options.header.toLowerCase()],
    presentCredential: (credential, options) => ({ [options.header.toLowerCase()]: credential })
  }),
  mtls: entry({
    configKey: 'mtls',
    schema: mtlsOptionsSchema,
    sectionOptional: false,
    create: createMtlsAuthenticator,
    secretFields: [],
    credentialHeaders: (options) => options.forwarded === undefined ? [] : [options.forwarded.header.toLowerCase()],
    clientCertificates: (options) => options.forwarded === undefined ? 'required' : 'optional'
  }),
  none: entry({
    configKey: 'none',
    schema: noneOptionsSchema,
    sectionOptional: true,
    create: createNoneAuthenticator,
    secretFields: [],
    loopbackOnly: true
  })
} as const

export type StrategyName = keyof typeof strategies
export const strategyNames = Object.keys(strategies) as [StrategyName, ...StrategyName[]]

type Registry = typeof strategies
type Sections = {
  [N in StrategyName as Registry[N]['configKey']]: z.ZodOptional<Registry[N]['schema']>
}

function sections (): Sections {
  const shape: Record<string, z.ZodType> = {}
  for (const { configKey, schema } of Object.values(strategies)) shape[configKey] = schema.optional()
  // The mapped type above is what the loop builds: one optional section per entry.
  return shape as Sections
}

const strategyName = z.enum(strategyNames)

export function chosenStrategies (strategy: StrategyName | readonly StrategyName[]): StrategyName[] {
  return typeof strategy === 'string' ? [strategy] : [...strategy]
}

/** The `auth` section of the config file: the strategy (or an ordered list) and each strategy's options. */
export const authSectionSchema = z.strictObject({
  strategy: z.union([strategyName, z.array(strategyName).min(1)]).default('api-key'),
  ...sections()
}).superRefine((auth, ctx) => {
  for (const name of chosenStrategies(auth.strategy)) {
    const { configKey, sectionOptional } = strategies[name]
    if (!sectionOptional && auth[configKey] === undefined) {
      ctx.addIssue({ code: 'custom', path: [configKey], message: `strategy ${name} is selected but auth.${configKey} is missing` })
    }
  }
})

export type AuthSection = z.output<typeof authSectionSchema>

/** The chosen strategies' entries, each with its parsed section. */
function chosen (auth: AuthSection): Array<{ name: StrategyName, entry: StrategyEntry, options: unknown }> {
  return chosenStrategies(auth.strategy).map((name) => {
    const entry: StrategyEntry = strategies[name]
    return { name, entry, options: auth[entry.configKey as keyof AuthSection] ?? {} }
  })
}

/** The chosen strategy that serves only loopback connections (authentication off), if any. */
export function openAccessStrategy (auth: AuthSection): StrategyName | undefined {
  return chosen(auth).find(({ entry }) => entry.loopbackOnly === true)?.name
}

/** The chosen strategies that read client certificates from the TLS handshake, and whether each has no other source. */
export function clientCertificateReaders (auth: AuthSection): Array<{ name: StrategyName, required: boolean }> {
  return chosen(auth).flatMap(({ name, entry, options }) => {
    const use = entry.clientCertificates?.(options)
    return use === undefined ? [] : [{ name, required: use === 'required' }]
  })
}

/** The strategies that can read client certificates, for messages that name them. */
export function clientCertificateStrategyNames (): StrategyName[] {
  return strategyNames.filter((name) => 'clientCertificates' in strategies[name])
}

/** RFC 9728 `authorization_servers`: every authorization server a chosen strategy names, or undefined when none does. */
export function authorizationServersOf (auth: AuthSection): string[] | undefined {
  const servers = chosen(auth).flatMap(({ entry, options }) => entry.authorizationServers?.(options) ?? [])
  return servers.length === 0 ? undefined : [...new Set(servers)]
}

/** Every option field of any strategy that holds a secret (and so may be given as `<field>File`). */
export function secretFieldNames (): string[] {
  return [...new Set(Object.values(strategies).flatMap((entry) => entry.secretFields))]
}

/** How a client presents a credential to the chosen strategies (the `stdio` command, the start-up banner): the headers of the first chosen strategy that can take it. */
export function stdioCredential (auth: AuthSection, env: NodeJS.ProcessEnv): { credential: string | undefined, headers: (credential: string) => Record<string, string> } {
  const entries = chosen(auth)
  const fromEnv = entries.map(({ entry }) => entry.credentialEnv).find((name) => name !== undefined && env[name] !== undefined && env[name] !== '')
  return {
    credential: env.MCP_AUTH_CREDENTIAL ?? (fromEnv === undefined ? undefined : env[fromEnv]),
    headers: (credential) => {
      const headers: Record<string, string> = {}
      const preferred = new Set<string>()
      for (const { entry, options } of entries) {
        const recognized = entry.recognizes?.(credential) ?? true
        for (const [name, value] of Object.entries(entry.presentCredential?.(credential, options) ?? {})) {
          if (headers[name] !== undefined && (preferred.has(name) || !recognized)) continue
          headers[name] = value
          if (recognized) preferred.add(name)
        }
      }
      return headers
    }
  }
}

/** The request headers that carry a credential to the chosen strategies, besides Authorization: redacted from logs. */
export function credentialHeaderNames (auth: AuthSection): string[] {
  return [...new Set(chosen(auth).flatMap(({ entry, options }) => entry.credentialHeaders?.(options) ?? []))]
}

/** The auth section with authentication off (CALCULATOR_REQUIRE_AUTH=false): the open strategy, with its own section if `raw` has one. */
export function openAccessAuth (raw: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const [name, entry] = Object.entries(strategies).find(([, e]) => e.loopbackOnly === true) ?? []
  if (name === undefined || entry === undefined) throw new Error('the registry has no open-access strategy')
  const section = raw?.[entry.configKey]
  return { strategy: name, ...(section === undefined ? {} : { [entry.configKey]: section }) }
}

/** The section of a strategy that signs its own tokens (the `token` command), as a config path. */
export const SIGNING_SECTION = 'auth.jwt'

/** The signer of the strategy that signs its own tokens, when its section is configured (chosen or not). */
export function tokenSigningOf (auth: AuthSection): TokenSigning | undefined {
  return auth.jwt === undefined ? undefined : createTokenSigning(auth.jwt)
}

/** The built-in token issuer's options, when the signing strategy's section turns it on (`auth.jwt.issue`). */
export function tokenIssuingOf (auth: AuthSection): { issue: IssueOptions, signing: TokenSigning } | undefined {
  return auth.jwt?.issue === undefined ? undefined : { issue: auth.jwt.issue, signing: createTokenSigning(auth.jwt) }
}

/** The built-in token issuer's options alone, without building its signer (`auth.jwt.issue`). */
export function tokenIssueOptionsOf (auth: AuthSection): IssueOptions | undefined {
  return auth.jwt?.issue
}
