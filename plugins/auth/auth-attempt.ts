import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AuditSink } from '../audit.js'
import type { AuthAttempt, AuthOutcome, Authenticator, FailedAuthThrottle, FailureReason } from '../../core/authenticator.js'
import {
  FailedAuthThrottled, MCP_AUTH_INVALID_CREDENTIALS, MCP_AUTH_MISSING_CREDENTIALS, MCP_AUTH_RATE_LIMITED, MCP_AUTH_TOKEN_EXPIRED, MCP_AUTH_TOKEN_REVOKED
} from '../../core/errors.js'

const errorFor = {
  missing_credentials: MCP_AUTH_MISSING_CREDENTIALS,
  invalid_credentials: MCP_AUTH_INVALID_CREDENTIALS,
  token_expired: MCP_AUTH_TOKEN_EXPIRED,
  token_revoked: MCP_AUTH_TOKEN_REVOKED
} satisfies Record<FailureReason, unknown>

export interface AttemptSettings {
  authenticators: readonly Authenticator[]
  audit: AuditSink
  throttle: FailedAuthThrottle | undefined
}

/**
 * One request's way through the authenticators, in order: the first that accepts wins. When none
 * does, the reply carries every strategy's challenge and the most telling reason: a credential
 * that was sent and refused says more than one that was not sent at all.
 *
 * Callback style, not async: most strategies answer synchronously, and on the hot path a promise
 * per request and per strategy is measurable. One object per request holds the state.
 */
export class RequestAttempt {
  readonly #settings: AttemptSettings
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  readonly #done: HookHandlerDoneFunction
  readonly #attempt: AuthAttempt | undefined
  readonly #challenges: string[] = []
  #index = 0
  #reason: FailureReason = 'missing_credentials'
  #detail: string | undefined
  #failedStrategy: string
  #costly = false

  constructor (settings: AttemptSettings, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    this.#settings = settings
    this.#request = request
    this.#reply = reply
    this.#done = done
    this.#failedStrategy = settings.authenticators[0]?.strategy ?? 'none'
    const throttle = settings.throttle
    this.#attempt = throttle === undefined
      ? undefined
      : { beforeCostlyCheck: async (account) => { this.#costly = true; await throttle.beforeCostlyCheck(request, account) } }
  }

  /** Tries the next authenticators; answers synchronously as long as they do. */
  next (): void {
    const authenticators = this.#settings.authenticators
    while (this.#index < authenticators.length) {
      const authenticator = authenticators[this.#index++] as Authenticator
      let outcome: AuthOutcome | Promise<AuthOutcome>
      try {
        outcome = authenticator.authenticate(this.#request, this.#reply, this.#attempt)
      } catch (error) {
        this.#fail(error as Error)
        return
      }
      if (outcome instanceof Promise) {
        outcome.then((settled) => this.#resume(settled, authenticator), (error: Error) => this.#fail(error))
        return
      }
      if (this.#settle(outcome, authenticator)) {
        this.#done()
        return
      }
    }
    this.#refuse()
  }

  #resume (outcome: AuthOutcome, authenticator: Authenticator): void {
    let finished: boolean
    // Outside the hook's own call, a throw here would be an unhandled rejection: fail the request instead.
    try {
      finished = this.#settle(outcome, authenticator)
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    if (finished) this.#done()
    else this.next()
  }

  /** Records an outcome; true when it ends the search. */
  #settle (outcome: AuthOutcome, authenticator: Authenticator): boolean {
    if (outcome.ok) {
      this.#request.principal = outcome.principal
      this.#request.challengeFamily = authenticator.challengeFamily ?? 'custom'
      // Another handler tried first (an @fastify/auth alternative) may have refused: an accepted request carries no challenge.
      if (this.#reply.hasHeader('www-authenticate')) this.#reply.removeHeader('www-authenticate')
      this.#settings.audit.auth(this.#request, { strategy: outcome.principal.strategy, outcome: 'success', principal: outcome.principal.id })
      return true
    }
    this.#challenges.push(authenticator.challenge(outcome.reason, this.#request))
    if (this.#reason === 'missing_credentials' && outcome.reason !== 'missing_credentials') {
      this.#reason = outcome.reason
      this.#detail = outcome.detail
      this.#failedStrategy = authenticator.strategy
    }
    return false
  }

  #fail (error: Error): void {
    if (error instanceof FailedAuthThrottled) {
      this.#settings.audit.auth(this.#request, { strategy: this.#failedStrategy, outcome: 'throttled', reason: 'too_many_failures' })
      this.#settings.audit.rateLimited(this.#request, 'failed_auth')
      this.#reply.header('retry-after', String(error.retryAfter))
    }
    this.#done(error)
  }

  /**
   * With a throttle, what counts is guessing and costly work, never a valid cheap credential: no
   * credential at all is not counted; a wrong key, token or cached-password miss is counted after
   * its check (past the limit the answer is 429, not 401); a password check was counted before it ran.
   */
  #refuse (): void {
    const { audit, throttle } = this.#settings
    audit.auth(this.#request, { strategy: this.#failedStrategy, outcome: 'failure', reason: this.#reason, ...(this.#detail === undefined ? {} : { detail: this.#detail }) })
    const distinct = [...new Set(this.#challenges.filter((challenge) => challenge !== ''))]
    this.#reply.code(401).header('www-authenticate', distinct.length === 1 ? distinct[0] : distinct)
    const error = new errorFor[this.#reason]()
    if (throttle === undefined || this.#reason !== 'invalid_credentials' || this.#costly) {
      this.#done(error)
      return
    }
    throttle.recordFailure(this.#request).then((wait) => {
      if (wait === undefined) {
        this.#done(error)
        return
      }
      this.#reply.code(429).removeHeader('www-authenticate').header('retry-after', String(wait))
      audit.rateLimited(this.#request, 'failed_auth')
      this.#done(new MCP_AUTH_RATE_LIMITED(`too many failed authentications, retry in ${wait} s`))
    }, (failure: Error) => this.#done(failure))
  }
}
