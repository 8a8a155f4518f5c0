import type { z } from 'zod'
import type { FastifyInstance } from 'fastify'
import type { Authenticator, DeploymentContext } from './authenticator.js'

/**
 * One entry of the strategy registry: everything the rest of the project may know about a
 * strategy, so that no other folder names one. `S` is the schema of its config section. How a
 * strategy closes is its authenticator's business: `create` receives the plugin instance and adds
 * its own `onClose` hooks (the JWKS fetcher stops with the app). The functions are declared as
 * methods so that every entry, whatever its option type, is a `StrategyEntry` to the code that
 * walks the registry (which hands each entry only its own section).
 */
export interface StrategyEntry<S extends z.ZodType = z.ZodType> {
  /** The section under `auth` in the config file that holds this strategy's options. */
  readonly configKey: string
  readonly schema: S
  /** Whether the strategy can run without a config section (it has defaults for everything). */
  readonly sectionOptional: boolean
  /** Builds the authenticator, which also names its challenge family (see `Authenticator`). */
  create (fastify: FastifyInstance, options: z.input<S>, context?: DeploymentContext): Authenticator | Promise<Authenticator>
  /** Option fields that hold secrets: each may instead be given as `<field>File` in the config file. */
  readonly secretFields: readonly string[]
  /**
   * How a client presents `credential` to this strategy, as request headers (used by the `stdio`
   * command, the start-up banner, and log redaction); undefined when it cannot be one of its.
   */
  presentCredential? (credential: string, options: z.output<S>): Record<string, string> | undefined
  /**
   * Whether a credential looks like one of this strategy's (a user:password pair, a token without a
   * colon). When several chosen strategies read the same header, one that recognizes it is preferred.
   */
  recognizes? (credential: string): boolean
  /** Request headers besides Authorization that may carry this strategy's credential: redacted from every log line. */
  credentialHeaders? (options: z.output<S>): readonly string[]
  /** An environment variable the `stdio` command reads the credential from when MCP_AUTH_CREDENTIAL is unset. */
  readonly credentialEnv?: string
  /** RFC 9728: the authorization servers that issue this strategy's tokens, when it names any. */
  authorizationServers? (options: z.output<S>): readonly string[] | undefined
  /** Serves only connections that arrive on a loopback address (no authentication at all). */
  readonly loopbackOnly?: boolean
  /**
   * Whether the strategy reads client certificates from the TLS handshake (so `server.tls.caFile`
   * asks clients for one): `required` when that is its only source, `optional` when it has another.
   */
  clientCertificates? (options: z.output<S>): 'required' | 'optional'
}
