import type { FastifyReply } from 'fastify'

/**
 * JSON-RPC error codes this project answers with. The spec's own codes keep their meaning; ours
 * stay in -32000…-32019, as the 2026-07-28 revision reserves -32020…-32099 for the specification.
 */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** HTTP-level refusals: a forbidden Host or Origin, a method not allowed, a full server. */
  ServerError: -32000,
  SessionNotFound: -32001,
  PermissionDenied: -32003,
  /** A server→client request that no client stream can carry (legacy era only). */
  ServerRequestUndeliverable: -32004,
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
  RequestCancelled: -32800
} as const

export interface JsonRpcErrorBody {
  code: number
  message: string
  data?: unknown
}

/**
 * Answers with a JSON-RPC error: for the request's id when the body was read far enough to know
 * it, otherwise for no request (`id: null`), as the transport spec does.
 */
export function sendJsonRpcError (
  reply: FastifyReply, status: number, code: number, message: string,
  extra: { data?: unknown, id?: string | number | null } = {}
): FastifyReply {
  const error: JsonRpcErrorBody = extra.data === undefined ? { code, message } : { code, message, data: extra.data }
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ jsonrpc: '2.0', id: extra.id ?? null, error }))
}

/** The tool a JSON-RPC message calls: the `params.name` of a `tools/call`, else undefined. */
export function calledToolName (message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null || !('method' in message) || message.method !== 'tools/call') return undefined
  const params: unknown = 'params' in message ? message.params : undefined
  const name: unknown = typeof params === 'object' && params !== null && 'name' in params ? params.name : undefined
  return typeof name === 'string' ? name : undefined
}
