import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { duration } from '../core/duration.js'
import { parseOptions } from '../core/options.js'
import { connected, createRedis, pings } from './token-store/redis-client.js'
import { requestLogAudit, type AuditSink } from './audit.js'
import { FailedAuthThrottled, MCP_AUTH_RATE_LIMITED, MCP_AUTH_RATE_LIMIT_UNAVAILABLE } from '../core/errors.js'
import type { FailedAuthThrottle } from '../core/authenticator.js'
import { principalKey } from '../core/principal.js'
import { calledToolName } from '../core/jsonrpc.js'

const limitSchema = z.strictObject({
  max: z.coerce.number().int().positive(),
  /** Milliseconds, or a duration such as `1m`. */
  timeWindow: duration
})

export type Limit = z.output<typeof limitSchema>

/** The `rateLimit` section, and the plugin's options. */
export const rateLimitOptionsSchema = z.strictObject({
  /** Requests per principal per timeWindow; unset: no per-principal limit. */
  max: z.coerce.number().int().positive().optional(),
  timeWindow: duration.default(60_000),
  /** Per principal and tool: { power: { max: 10, timeWindow: 1m } }. */
  tools: z.record(z.string(), limitSchema).default({}),
  /** Failed authentications per client address; false turns the throttle off. */
  failedAuth: z.union([limitSchema, z.literal(false)]).default({ max: 10, timeWindow: 60_000 }),
  /** Share every counter across instances; unset or empty: this process's memory. */
  redisUrl: z.string().optional().transform((url) => url === '' ? undefined : url)
})

export type RateLimitOptions = z.input<typeof rateLimitOptionsSchema> & {
  /** Receives every refusal (default: the request log). */
  audit?: AuditSink | undefined
}

/** What the rate-limit plugin offers the scope it is registered in. */
export interface RateLimits {
  /** The failed-authentication throttle for the auth hook and the token endpoint; undefined when off. */
  readonly throttle: FailedAuthThrottle | undefined
  /** Whether the counter store can answer (readiness). */
  ready: () => Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    mcpAuthLimits: RateLimits
  }
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
type LimitResult = Awaited<ReturnType<Limiter>>

async function check (limiter: Limiter, request: FastifyRequest, increment = true) {
  try {
    return await limiter(request, { increment })
  } catch {
    throw new MCP_AUTH_RATE_LIMIT_UNAVAILABLE()
  }
}

/**
 * The tools a POST calls, from its body: the `Mcp-Name` header is a copy a client could make
 * disagree with the body, and the route refuses such a request only after this hook has run.
 */
function toolsCalled (request: FastifyRequest): string[] {
  const body: unknown = request.body
  const messages: unknown[] = Array.isArray(body) ? body : [body]
  return messages.map(calledToolName).filter((name) => name !== undefined)
}

type Create = (limit: Limit, key: (request: FastifyRequest) => string) => Limiter

const exceeded = (result: LimitResult): boolean => !result.isAllowed && result.isExceeded
const waitSeconds = (result: LimitResult): number => Math.max(1, result.isAllowed ? 1 : result.ttlInSeconds)

/**
 * Counts `request` against a limiter made with createRateLimit: the seconds to wait (Retry-After)
 * when it is over the limit, else undefined. For routes that answer the refusal in their own format.
 */
export async function retryAfterOf (limiter: Limiter, request: FastifyRequest): Promise<number | undefined> {
  const result = await limiter(request)
  return exceeded(result) ? waitSeconds(result) : undefined
}

function refuse (audit: AuditSink, request: FastifyRequest, reply: FastifyReply, kind: string, result: LimitResult): never {
  audit.rateLimited(request, kind)
  reply.header('retry-after', String(waitSeconds(result)))
  throw new MCP_AUTH_RATE_LIMITED(`${kind === 'principal' ? 'too many requests' : `too many ${kind} calls`}, retry in ${waitSeconds(result)} s`)
}

function limitHeaders (reply: FastifyReply, result: LimitResult): void {
  if (result.isAllowed) return
  reply.header('ratelimit-limit', String(result.max))
    .header('ratelimit-remaining', String(result.remaining))
    .header('ratelimit-reset', String(result.ttlInSeconds))
}

/** Failed authentications, per client address (cheap failures, counted after the check) and per account (password checks, counted before). */
function failedAuthThrottle (create: Create, limit: Limit): FailedAuthThrottle {
  const accounts = new WeakMap<FastifyRequest, string>()
  const perAddress = create(limit, (request) => `fail:${request.ip}`)
  const perAccount = create(limit, (request) => `fail-account:${accounts.get(request) ?? ''}`)
  const over = (result: LimitResult): number | undefined => exceeded(result) ? waitSeconds(result) : undefined
  return {
    // Counted before the work, so concurrent attempts cannot all slip under the limit: at most
    // the limit's worth of password checks run per window, per address and per account.
    beforeCostlyCheck: async (request, account) => {
      accounts.set(request, account)
      const [address, named] = await Promise.all([check(perAddress, request), check(perAccount, request)])
      const wait = Math.max(over(address) ?? 0, over(named) ?? 0)
      if (wait > 0) throw new FailedAuthThrottled(wait)
    },
    recordFailure: async (request) => over(await check(perAddress, request))
  }
}

const principalOf = (request: FastifyRequest): string => request.principal == null ? '' : principalKey(request.principal)

/**
 * All requests per verified principal, and tools/call per principal and tool, in one `preHandler`
 * hook: it runs after authentication whatever order the plugins were registered in, and once the
 * body names the tools. Every counter a request touches is asked at once, so with Redis they share
 * one round trip (ioredis pipelines commands issued together). The principal's limit is judged
 * first; a request it refuses has still counted towards its tools' limits.
 */
function addLimits (fastify: FastifyInstance, create: Create, principal: Limit | undefined, tools: ReadonlyArray<[string, Limit]>, audit: AuditSink): void {
  const perPrincipal = principal === undefined ? undefined : create(principal, (request) => `p:${principalOf(request)}`)
  const current = new WeakMap<FastifyRequest, string>()
  const perTool = new Map(tools.map(([tool, limit]) => [tool, create(limit, (request) => `t:${current.get(request) ?? ''}:${principalOf(request)}`)]))
  fastify.addHook('preHandler', async function rateLimit (request, reply) {
    if (request.principal == null) return
    const toolChecks: Array<[string, Promise<LimitResult>]> = []
    for (const tool of perTool.size === 0 ? [] : toolsCalled(request)) {
      const limiter = perTool.get(tool)
      if (limiter === undefined) continue
      // The key generator reads the tool synchronously, when the check starts.
      current.set(request, tool)
      toolChecks.push([tool, check(limiter, request)])
    }
    const principalCheck = perPrincipal === undefined ? undefined : check(perPrincipal, request)
    const [principalResult, toolResults] = await Promise.all([principalCheck, Promise.all(toolChecks.map(async ([tool, result]) => [tool, await result] as const))])
    if (principalResult !== undefined) {
      limitHeaders(reply, principalResult)
      if (exceeded(principalResult)) refuse(audit, request, reply, 'principal', principalResult)
    }
    for (const [tool, result] of toolResults) if (exceeded(result)) refuse(audit, request, reply, tool, result)
  })
}

/**
 * Rate limits for the scope it is registered in, built on @fastify/rate-limit (its counters, in
 * memory or Redis): failed authentications (a throttle the auth hook and the token endpoint take
 * from `fastify.mcpAuthLimits`), all requests per verified principal, and tools/call per principal
 * and tool. Over a limit: 429 with Retry-After and RateLimit-* headers. A counter store that
 * cannot answer fails closed: 503.
 */
async function rateLimitsPlugin (fastify: FastifyInstance, rawOptions: RateLimitOptions): Promise<void> {
  const { audit: configuredAudit, ...section } = rawOptions
  const options = parseOptions('rate-limits', rateLimitOptionsSchema, section)
  const audit = configuredAudit ?? requestLogAudit()
  const redis = options.redisUrl === undefined ? undefined : createRedis(options.redisUrl)
  if (redis !== undefined) fastify.addHook('onClose', async () => { redis.disconnect() })
  if (redis !== undefined && !await connected(redis, 3000)) fastify.log.warn('the rate-limit store (Redis) is not reachable yet: requests get 503 until it is')
  await fastify.register(rateLimit, { global: false, skipOnError: false, nameSpace: 'fastify-mcp-auth-rl:', ...(redis === undefined ? {} : { redis }) })
  const create: Create = (limit, key) => fastify.createRateLimit({ max: limit.max, timeWindow: limit.timeWindow, keyGenerator: key })

  const tools = Object.entries(options.tools)
  const principal = options.max === undefined ? undefined : { max: options.max, timeWindow: options.timeWindow }
  if (principal !== undefined || tools.length > 0) addLimits(fastify, create, principal, tools, audit)
  fastify.decorate('mcpAuthLimits', {
    throttle: options.failedAuth === false ? undefined : failedAuthThrottle(create, options.failedAuth),
    ready: async () => redis === undefined || await pings(redis)
  } satisfies RateLimits)
}

export const rateLimits = fp(rateLimitsPlugin, { fastify: '5.x', name: 'fastify-mcp-auth-rate-limits' })
export default rateLimits
