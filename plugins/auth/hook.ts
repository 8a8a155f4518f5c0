import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { requestLogAudit, type AuditSink } from '../audit.js'
import type { Authenticator, FailedAuthThrottle } from '../../core/authenticator.js'
import { MCP_AUTH_AMBIGUOUS_CREDENTIALS } from '../../core/errors.js'
import { RequestAttempt, type AttemptSettings } from './auth-attempt.js'

export interface AuthHookOptions {
  audit?: AuditSink | undefined
  throttle?: FailedAuthThrottle | undefined
}

/** An `onRequest`/`preHandler` handler, in the callback form @fastify/auth also takes. */
export type AuthHandler = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** What the strategy plugins offer the scope they are registered in (`fastify.mcpAuth`). */
export interface McpAuth {
  /** The authenticators of every strategy registered in this scope, in order. */
  readonly authenticators: readonly Authenticator[]
  /** Every strategy registered in this scope, tried in registration order (the first that accepts wins). */
  readonly authenticate: AuthHandler
  /** One handler per strategy registered in this scope, by strategy name (`byStrategy['api-key']`). */
  readonly byStrategy: Readonly<Record<string, AuthHandler>>
}

declare module 'fastify' {
  interface FastifyInstance {
    mcpAuth: McpAuth
  }
}

/**
 * The first credential header sent more than once, if any. Node keeps the first of two
 * `Authorization` headers and joins repeated custom headers; either way, which credential was
 * meant is a guess this hook does not make.
 */
function repeatedHeader (rawHeaders: readonly string[], names: ReadonlySet<string>): string | undefined {
  const seen = new Set<string>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase()
    if (!names.has(name)) continue
    if (seen.has(name)) return name
    seen.add(name)
  }
  return undefined
}

export function decoratePrincipal (fastify: FastifyInstance): void {
  if (!fastify.hasRequestDecorator('principal')) fastify.decorateRequest('principal', null)
  if (!fastify.hasRequestDecorator('challengeFamily')) fastify.decorateRequest('challengeFamily', null)
}

/**
 * The handler that authenticates a request with `authenticators` (see RequestAttempt): sets
 * `request.principal`, or fails with 401 and every strategy's challenge (429 past the failed-auth
 * throttle, 400 for a credential header sent twice). Every attempt is audited.
 */
export function createAuthHandler (fastify: FastifyInstance, authenticators: readonly Authenticator[], options: AuthHookOptions = {}): AuthHandler {
  decoratePrincipal(fastify)
  const settings: AttemptSettings = { authenticators, audit: options.audit ?? requestLogAudit(), throttle: options.throttle }
  const credentialHeaders = new Set(['authorization', ...authenticators.flatMap((authenticator) => authenticator.credentialHeaders ?? [])])
  return function authenticate (request, reply, done) {
    const repeated = repeatedHeader(request.raw.rawHeaders, credentialHeaders)
    if (repeated !== undefined) {
      settings.audit.auth(request, { strategy: authenticators[0]?.strategy ?? 'none', outcome: 'failure', reason: 'ambiguous_credentials' })
      done(new MCP_AUTH_AMBIGUOUS_CREDENTIALS(repeated))
      return
    }
    new RequestAttempt(settings, request, reply, done).next()
  }
}

/**
 * Authenticates every request of the encapsulation context in `onRequest`, before the body is
 * read. With a throttle, a client behind the same address as an attacker keeps working with its
 * key, token or remembered password: only guesses and costly checks are counted.
 */
export function addAuthHook (fastify: FastifyInstance, authenticators: readonly Authenticator[], options: AuthHookOptions = {}): void {
  fastify.addHook('onRequest', createAuthHandler(fastify, authenticators, options))
}

/**
 * Adds handlers to `fastify.mcpAuth` in this scope (a child scope's additions stay in that scope):
 * one per strategy by its name, and `authenticate`, which tries every strategy of the scope in order.
 */
function decorateMcpAuth (fastify: FastifyInstance, authenticators: readonly Authenticator[], options: AuthHookOptions): AuthHandler {
  const handler = createAuthHandler(fastify, authenticators, options)
  const inherited: McpAuth | undefined = fastify.hasDecorator('mcpAuth') ? fastify.mcpAuth : undefined
  const all = [...(inherited?.authenticators ?? []), ...authenticators]
  const mcpAuth: McpAuth = {
    authenticators: all,
    authenticate: inherited === undefined ? handler : createAuthHandler(fastify, all, options),
    byStrategy: { ...inherited?.byStrategy, ...Object.fromEntries(authenticators.map((authenticator) => [authenticator.strategy, handler])) }
  }
  if (inherited === undefined) fastify.decorate('mcpAuth', mcpAuth)
  else fastify.mcpAuth = mcpAuth
  return handler
}

export interface StrategyRegistration extends AuthHookOptions {
  /**
   * `false`: no `onRequest` hook; the strategy only joins `fastify.mcpAuth`, for routes that
   * authenticate themselves (`onRequest: fastify.mcpAuth.authenticate`) or through @fastify/auth.
   */
  addHook?: boolean | undefined
}

/** What every strategy plugin does with its authenticators: join `fastify.mcpAuth` and, by default, guard the scope. */
export function registerStrategy (fastify: FastifyInstance, authenticators: readonly Authenticator[], { addHook = true, ...options }: StrategyRegistration = {}): void {
  const handler = decorateMcpAuth(fastify, authenticators, options)
  if (addHook) fastify.addHook('onRequest', handler)
}
