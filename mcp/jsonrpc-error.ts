import type { FastifyReply } from 'fastify'

/** JSON-RPC error codes used at the HTTP layer (the SDK's own codes, plus -32001 for sessions). */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  ServerError: -32000,
  SessionNotFound: -32001
} as const

/** Answers with a JSON-RPC error that belongs to no request (`id: null`), as the transport spec does. */
export function sendJsonRpcError (reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
}
