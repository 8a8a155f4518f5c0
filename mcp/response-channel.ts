import type { FastifyReply } from 'fastify'
import type { JSONRPCMessage } from '@modelcontextprotocol/server'
import type { RelatedChannel } from './in-flight.js'

/** The response formats a client takes, from its `Accept` header. */
export interface Accepts {
  json: boolean
  sse: boolean
}

const ANYTHING: Accepts = Object.freeze({ json: true, sse: true })

/**
 * Reads an Accept header as HTTP defines it: no header takes anything; media ranges with q=0 are
 * refused; `*\/*`, `application/*` and `text/*` count for the types they cover.
 */
export function acceptsOf (header: string | undefined): Accepts {
  if (header === undefined || header.trim() === '') return ANYTHING
  // Clients send the same few headers over and over: each is read once.
  let accepts = seen.get(header)
  if (accepts === undefined) {
    accepts = parseAccept(header)
    if (seen.size >= 64) seen.clear()
    seen.set(header, accepts)
  }
  return accepts
}

const seen = new Map<string, Accepts>()

function parseAccept (header: string): Accepts {
  const accepts = { json: false, sse: false }
  for (const range of header.split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase())
    if (parameters.some((parameter) => /^q=0(\.0*)?$/.test(parameter.replace(/\s/g, '')))) continue
    if (type === '*/*' || type === 'application/*' || type === 'application/json') accepts.json = true
    if (type === '*/*' || type === 'text/*' || type === 'text/event-stream') accepts.sse = true
  }
  return Object.freeze(accepts)
}

/**
 * The answer to one POST. It stays a single JSON body unless a message that belongs to the POST's
 * requests (a progress or log notification, a server→client request) must reach the client before
 * their results: then the response becomes an SSE stream that carries those messages in the order
 * they were sent and ends with the results. A client that takes only SSE always gets a stream.
 */
export class ResponseChannel implements RelatedChannel {
  readonly #reply: FastifyReply
  readonly #accepts: Accepts
  #streaming = false
  #ended = false
  #gone = false
  #onGone: (() => void) | undefined

  constructor (reply: FastifyReply, accepts: Accepts) {
    this.#reply = reply
    this.#accepts = accepts
    reply.raw.once('close', () => {
      if (this.#ended) return
      this.#gone = true
      this.#onGone?.()
    })
  }

  /** Whether the response has turned into an SSE stream (its status is then already sent). */
  get streaming (): boolean {
    return this.#streaming
  }

  /** Called once if the client goes away before the exchange ended: what it asked for is cancelled. */
  onClientGone (listener: () => void): void {
    this.#onGone = listener
  }

  /** Sends a message ahead of the results; false when this response cannot carry it. */
  related (message: JSONRPCMessage): boolean {
    if (this.#ended || this.#gone || !this.#accepts.sse) return false
    this.#openStream()
    this.#write(message)
    return true
  }

  /** Writes an SSE comment (a keep-alive) when the response is a stream. */
  comment (text: string): void {
    if (this.#streaming && !this.#ended && !this.#gone) this.#reply.raw.write(`: ${text}\n\n`)
  }

  /** Ends the exchange: a JSON body with `status`, or the last events of the stream. */
  finish (status: number, body: JSONRPCMessage | JSONRPCMessage[]): FastifyReply {
    if (this.#ended || this.#gone) return this.#reply
    if (!this.#streaming && (this.#accepts.json || status !== 200)) {
      this.#ended = true
      return this.#reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body))
    }
    this.#openStream()
    for (const message of Array.isArray(body) ? body : [body]) this.#write(message)
    this.#ended = true
    this.#reply.raw.end()
    return this.#reply
  }

  #openStream (): void {
    if (this.#streaming) return
    this.#streaming = true
    const reply = this.#reply
    // From here the raw response is written directly; headers set on the reply so far (the
    // session id, rate-limit headers, by hooks too) are carried across.
    reply.hijack()
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value)
    }
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no'
    })
  }

  #write (message: JSONRPCMessage): void {
    this.#reply.raw.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)
  }
}
