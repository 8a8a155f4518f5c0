import type { FastifyReply, FastifyRequest } from 'fastify'
import type { JSONRPCMessage, JSONRPCRequest, JSONRPCResponse, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import { quote } from '../plugins/auth/authenticator.js'
import type { Principal } from '../plugins/auth/principal.js'
import { deniedResponse, type DeniedCall, type ToolAccess } from '../mcp/tool-access.js'
import type { HttpMultiplexTransport } from '../mcp/transport.js'
import type { AuditSink } from '../plugins/audit.js'

/** Strategies whose clients speak OAuth bearer semantics, and so understand a 403 insufficient_scope. */
const BEARER_STRATEGIES = new Set(['bearer', 'jwt'])

export interface ExchangeContext {
  access: ToolAccess
  /** The RFC 9728 metadata URL to name in a 403 challenge, when the deployment publishes one. */
  resourceMetadataUrl?: ((request: FastifyRequest) => string) | undefined
  audit: AuditSink
}

function send (reply: FastifyReply, batch: boolean, responses: JSONRPCResponse[]): FastifyReply {
  if (responses.length === 0) return reply.code(202).send()
  return reply
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(batch ? responses : responses[0]))
}

/**
 * Bearer-family clients get HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`
 * (RFC 6750, and the MCP authorization spec's step-up signal); nothing in the batch runs.
 */
function forbid (request: FastifyRequest, reply: FastifyReply, denied: DeniedCall, context: ExchangeContext): FastifyReply {
  const params = ['error="insufficient_scope"', `scope=${quote(denied.permission)}`]
  if (context.resourceMetadataUrl !== undefined) params.push(`resource_metadata=${quote(context.resourceMetadataUrl(request))}`)
  return reply
    .code(403)
    .header('www-authenticate', `Bearer ${params.join(', ')}`)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(deniedResponse(denied)))
}

/** The requests among `messages`: the transport answers them, in this order. */
function requestsOf (messages: readonly JSONRPCMessage[]): JSONRPCRequest[] {
  return messages.filter((message): message is JSONRPCRequest => 'method' in message && 'id' in message)
}

/**
 * One HTTP exchange: refuse the tools/calls the principal may not make, hand the rest to the
 * server, hide the tools it may not use from tools/list, and answer in the caller's order.
 */
export async function exchange (
  request: FastifyRequest,
  reply: FastifyReply,
  principal: Principal,
  batch: { messages: JSONRPCMessage[], batch: boolean },
  transport: HttpMultiplexTransport,
  extra: MessageExtraInfo,
  context: ExchangeContext
): Promise<FastifyReply> {
  const started = performance.now()
  const checked = context.access.deniedCalls(batch.messages, principal)
  const denied = checked instanceof Promise ? await checked : checked
  for (const refusal of denied) {
    context.audit.auth(request, { strategy: principal.strategy, outcome: 'failure', reason: 'insufficient_permission', principal: principal.id, permission: refusal.permission })
    context.audit.tool(request, { tool: refusal.tool, principal: principal.id, strategy: principal.strategy, outcome: 'denied', durationMs: 0 })
  }
  if (denied.length > 0 && BEARER_STRATEGIES.has(principal.strategy)) return forbid(request, reply, denied[0] as DeniedCall, context)

  // Other strategies: each refused call gets a JSON-RPC error in its place; the rest runs.
  const refused = new Map(denied.map((d) => [d.id, d]))
  const allowed = refused.size === 0 ? batch.messages : batch.messages.filter((message) => !('method' in message && 'id' in message && refused.has(message.id)))
  const requests = requestsOf(allowed)
  const served = await transport.dispatch(allowed, extra)
  auditToolCalls(request, requests, served, principal, context, started)
  await filterToolLists(requests, served, principal, context)
  if (refused.size === 0) return send(reply, batch.batch, served)
  let next = 0
  const responses = requestsOf(batch.messages).map((message) => {
    const refusal = refused.get(message.id)
    return refusal === undefined ? served[next++] : deniedResponse(refusal)
  }).filter((response): response is JSONRPCResponse => response !== undefined)
  return send(reply, batch.batch, responses)
}

/** One audit event per tools/call that ran: its outcome from the response, the exchange's duration. */
function auditToolCalls (request: FastifyRequest, requests: readonly JSONRPCRequest[], responses: readonly JSONRPCResponse[], principal: Principal, context: ExchangeContext, started: number): void {
  requests.forEach((message, index) => {
    if (message.method !== 'tools/call') return
    const response = responses[index]
    const params = message.params as { name?: unknown, arguments?: unknown } | undefined
    const failed = response === undefined || 'error' in response || (response.result as { isError?: unknown }).isError === true
    context.audit.tool(request, {
      tool: typeof params?.name === 'string' ? params.name : '',
      principal: principal.id,
      strategy: principal.strategy,
      outcome: failed ? 'error' : 'success',
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      ...(context.audit.includeArguments ? { arguments: params?.arguments } : {})
    })
  })
}

/** Replaces, in place, each tools/list response with the tools the principal may use. */
async function filterToolLists (requests: readonly JSONRPCRequest[], responses: JSONRPCResponse[], principal: Principal, context: ExchangeContext): Promise<void> {
  for (const [index, message] of requests.entries()) {
    const response = responses[index]
    if (message.method === 'tools/list' && response !== undefined) responses[index] = await context.access.filterToolList(response, principal)
  }
}
