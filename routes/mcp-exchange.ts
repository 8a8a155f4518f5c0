import type { FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, MessageExtraInfo } from '@modelcontextprotocol/server'
import { bearerChallenge } from '../core/challenges.js'
import { toAuthInfo, type Principal } from '../core/principal.js'
import type { AuditSink } from '../plugins/audit.js'
import type { ModernEndpoint } from '../mcp/endpoints.js'
import { calledToolName, JsonRpcCode, sendJsonRpcError } from '../core/jsonrpc.js'
import type { LegacyTransport } from '../mcp/legacy-transport.js'
import { acknowledgedFilter } from '../mcp/listen.js'
import { paramHeaderMismatch } from '../mcp/param-headers.js'
import type { ProtocolEra } from '../mcp/protocol-versions.js'
import { ResponseChannel, type Accepts } from '../mcp/response-channel.js'
import { deniedResponse, type DeniedCall, type ToolAccess } from '../mcp/tool-access.js'
import { andThen, type MaybePromise } from '../core/maybe-async.js'

export interface ExchangeContext {
  access: ToolAccess
  /** The RFC 9728 metadata URL to name in a 403 challenge, when the deployment publishes one. */
  resourceMetadataUrl?: ((request: FastifyRequest) => string | undefined) | undefined
  audit: AuditSink
}

/** One POST as the exchange sees it: who asks, how it may be answered, what it cost so far. */
export interface Exchange {
  request: FastifyRequest
  reply: FastifyReply
  principal: Principal
  accepts: Accepts
  context: ExchangeContext
}

function extraFor (principal: Principal): MessageExtraInfo {
  return { authInfo: toAuthInfo(principal) }
}

/**
 * Bearer-family clients get HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`
 * naming every scope the request needs (RFC 6750, and the MCP authorization spec's step-up
 * signal); nothing in the request runs.
 */
function forbid (exchange: Exchange, denied: readonly DeniedCall[]): FastifyReply {
  const { request, reply, context } = exchange
  // Refresh tokens are not something a resource requires: offline_access is never asked for.
  const scope = [...new Set(denied.map((call) => call.permission))].filter((permission) => permission !== 'offline_access')
  const challenge = bearerChallenge({ error: 'insufficient_scope', scope, resourceMetadata: context.resourceMetadataUrl?.(request) })
  const first = denied[0] as DeniedCall
  return reply
    .code(403)
    .header('www-authenticate', challenge)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(deniedResponse(first)))
}

function requestsOf (messages: readonly JSONRPCMessage[]): JSONRPCRequest[] {
  return messages.filter((message): message is JSONRPCRequest => 'method' in message && 'id' in message)
}

interface Refusals {
  denied: DeniedCall[]
  /** A 403 has been sent: nothing in the request runs. */
  answered: boolean
}

const NONE_DENIED: Refusals = Object.freeze({ denied: [], answered: false })

/**
 * The tools/calls the principal may not make, audited; a 403 is sent when the client understands
 * one. Synchronous when the access check is: this runs on every request.
 */
function refuseDenied (exchange: Exchange, messages: readonly JSONRPCMessage[]): MaybePromise<Refusals> {
  return andThen(exchange.context.access.deniedCalls(messages, exchange.principal), (denied) => denied.length === 0 ? NONE_DENIED : refusals(exchange, denied))
}

function refusals (exchange: Exchange, denied: DeniedCall[]): Refusals {
  const { request, principal, context } = exchange
  for (const refusal of denied) {
    context.audit.auth(request, { strategy: principal.strategy, outcome: 'failure', reason: 'insufficient_permission', principal: principal.id, permission: refusal.permission })
    context.audit.tool(request, { tool: refusal.tool, principal: principal.id, strategy: principal.strategy, outcome: 'denied', durationMs: 0 })
  }
  if (denied.length > 0 && request.challengeFamily === 'oauth-bearer') {
    forbid(exchange, denied)
    return { denied, answered: true }
  }
  return { denied, answered: false }
}

/**
 * A 2025-era POST: refuse the tools/calls the principal may not make, hand the rest to the
 * server, hide the tools it may not use from tools/list, and answer in the caller's order. Messages
 * the server sends about these requests meanwhile stream ahead of the answer.
 */
export async function legacyExchange (exchange: Exchange, batch: { messages: JSONRPCMessage[], batch: boolean }, transport: LegacyTransport): Promise<FastifyReply> {
  const started = performance.now()
  const checked = refuseDenied(exchange, batch.messages)
  // Awaited only when the access check is asynchronous: most requests need no extra turn.
  const { denied, answered } = checked instanceof Promise ? await checked : checked
  if (answered) return exchange.reply
  // Other strategies: each refused call gets a JSON-RPC error in its place; the rest runs.
  const refused = new Map(denied.map((d) => [d.id, d]))
  const allowed = refused.size === 0 ? batch.messages : batch.messages.filter((message) => !('method' in message && 'id' in message && refused.has(message.id)))
  const requests = requestsOf(allowed)
  const channel = new ResponseChannel(exchange.reply, exchange.accepts)
  const served = await transport.dispatch(allowed, extraFor(exchange.principal), channel)
  auditToolCalls(exchange, requests, served, started, 'legacy')
  if (listsTools(requests)) await filterToolLists(exchange, requests, served, 'legacy')
  let responses = served
  if (refused.size > 0) {
    let next = 0
    responses = requestsOf(batch.messages).map((message) => {
      const refusal = refused.get(message.id)
      return refusal === undefined ? served[next++] : deniedResponse(refusal)
    }).filter((response): response is JSONRPCResponse => response !== undefined)
  }
  if (responses.length === 0 && !channel.streaming) return exchange.reply.code(202).send()
  return channel.finish(200, batch.batch ? responses : responses[0] as JSONRPCResponse)
}

/**
 * A 2026-07-28 POST: one request (or notification) served statelessly by the principal's modern
 * server, with the same access rules, audit and tool-list filtering as the 2025 era.
 */
export async function modernExchange (exchange: Exchange, message: JSONRPCMessage, endpoint: ModernEndpoint): Promise<FastifyReply> {
  const { request, reply, principal } = exchange
  if (!('id' in message)) {
    if ('method' in message) endpoint.transport.notify(message, extraFor(principal))
    return reply.code(202).send()
  }
  if (!('method' in message)) return sendJsonRpcError(reply, 400, JsonRpcCode.InvalidRequest, 'Invalid Request: responses cannot be posted in this era', { id: message.id })
  if (message.method === 'subscriptions/listen') return listen(exchange, message, endpoint)
  if (message.method === 'tools/call') {
    const params = message.params as { arguments?: unknown } | undefined
    const tool = calledToolName(message)
    const found = tool === undefined ? [] : endpoint.paramRulesFor(tool)
    const rules = await found
    const mismatch = rules.length === 0 ? undefined : paramHeaderMismatch(rules, params?.arguments, request.headers)
    if (mismatch !== undefined) return sendJsonRpcError(reply, 400, JsonRpcCode.HeaderMismatch, `Header mismatch: ${mismatch}`, { id: message.id })
  }
  const started = performance.now()
  const checked = refuseDenied(exchange, [message])
  const { denied, answered } = checked instanceof Promise ? await checked : checked
  if (answered) return reply
  const channel = new ResponseChannel(reply, exchange.accepts)
  if (denied[0] !== undefined) return channel.finish(200, deniedResponse(denied[0]))
  const { response, status } = await endpoint.transport.dispatch(message, extraFor(principal), channel)
  const responses = [response]
  auditToolCalls(exchange, [message], responses, started, 'modern')
  if (message.method === 'tools/list') await filterToolLists(exchange, [message], responses, 'modern')
  return channel.finish(status, responses[0] as JSONRPCResponse)
}

/** `subscriptions/listen`: a stream of the notifications that belong to no request. */
function listen (exchange: Exchange, message: JSONRPCRequest, endpoint: ModernEndpoint): FastifyReply {
  if (!exchange.accepts.sse) {
    return sendJsonRpcError(exchange.reply, 406, JsonRpcCode.ServerError, 'Not Acceptable: subscriptions/listen answers with text/event-stream', { id: message.id })
  }
  const filter = acknowledgedFilter((message.params as { notifications?: unknown } | undefined)?.notifications, endpoint.capabilities)
  endpoint.listen.open(message.id, filter, new ResponseChannel(exchange.reply, exchange.accepts))
  return exchange.reply
}

/** One audit event per tools/call that ran: its outcome from the response, the exchange's duration. */
function auditToolCalls (exchange: Exchange, requests: readonly JSONRPCRequest[], responses: readonly JSONRPCResponse[], started: number, era: ProtocolEra): void {
  const { request, principal, context } = exchange
  requests.forEach((message, index) => {
    if (message.method !== 'tools/call') return
    const response = responses[index]
    const params = message.params as { arguments?: unknown } | undefined
    const failed = response === undefined || 'error' in response || (response.result as { isError?: unknown }).isError === true
    context.audit.tool(request, {
      tool: calledToolName(message) ?? '',
      principal: principal.id,
      strategy: principal.strategy,
      era,
      outcome: failed ? 'error' : 'success',
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      ...(context.audit.includeArguments ? { arguments: params?.arguments } : {})
    })
  })
}

function listsTools (requests: readonly JSONRPCRequest[]): boolean {
  return requests.some((message) => message.method === 'tools/list')
}

/** Replaces, in place, each tools/list response with the tools the principal may use. */
async function filterToolLists (exchange: Exchange, requests: readonly JSONRPCRequest[], responses: JSONRPCResponse[], era: ProtocolEra): Promise<void> {
  for (const [index, message] of requests.entries()) {
    const response = responses[index]
    if (message.method === 'tools/list' && response !== undefined) responses[index] = await exchange.context.access.filterToolList(response, exchange.principal, era)
  }
}
