import { SUBSCRIPTION_ID_META_KEY, type JSONRPCMessage, type JSONRPCNotification, type RequestId, type ServerCapabilities } from '@modelcontextprotocol/server'
import type { RelatedChannel } from './in-flight.js'

/** Where a listen stream is written: an SSE response over HTTP, stdout over stdio. */
export interface ListenChannel extends RelatedChannel {
  comment: (text: string) => void
  finish: (status: number, body: JSONRPCMessage) => unknown
}

/** The `notifications` filter of `subscriptions/listen`, as requested and as acknowledged. */
export interface ListenFilter {
  toolsListChanged?: boolean
  promptsListChanged?: boolean
  resourcesListChanged?: boolean
  resourceSubscriptions?: string[]
}

interface Listener {
  id: RequestId
  filter: ListenFilter
  channel: ListenChannel
  keepAlive: NodeJS.Timeout
}

const FLAG_OF: Readonly<Record<string, 'toolsListChanged' | 'promptsListChanged' | 'resourcesListChanged'>> = {
  'notifications/tools/list_changed': 'toolsListChanged',
  'notifications/prompts/list_changed': 'promptsListChanged',
  'notifications/resources/list_changed': 'resourcesListChanged'
}

/** The part of a requested filter the server can honour, from what its capabilities announce. */
export function acknowledgedFilter (requested: unknown, capabilities: ServerCapabilities): ListenFilter {
  const asked = typeof requested === 'object' && requested !== null ? requested as Record<string, unknown> : {}
  const filter: ListenFilter = {}
  if (asked.toolsListChanged === true && capabilities.tools?.listChanged === true) filter.toolsListChanged = true
  if (asked.promptsListChanged === true && capabilities.prompts?.listChanged === true) filter.promptsListChanged = true
  if (asked.resourcesListChanged === true && capabilities.resources?.listChanged === true) filter.resourcesListChanged = true
  const uris = asked.resourceSubscriptions
  if (Array.isArray(uris) && capabilities.resources?.subscribe === true) {
    filter.resourceSubscriptions = uris.filter((uri): uri is string => typeof uri === 'string')
  }
  return filter
}

function wants (filter: ListenFilter, notification: JSONRPCNotification): boolean {
  const flag = FLAG_OF[notification.method]
  if (flag !== undefined) return filter[flag] === true
  if (notification.method !== 'notifications/resources/updated') return false
  const uri = (notification.params as { uri?: unknown } | undefined)?.uri
  return typeof uri === 'string' && filter.resourceSubscriptions?.includes(uri) === true
}

/**
 * The open `subscriptions/listen` streams of one principal's modern server (2026-07-28): the
 * notifications that belong to no request (list changes, resource updates) reach each stream
 * whose filter asked for them, tagged with that stream's subscription id.
 */
export class ListenStreams {
  readonly #listeners = new Set<Listener>()
  readonly #keepAliveInterval: number

  constructor (keepAliveInterval = 25_000) {
    this.#keepAliveInterval = keepAliveInterval
  }

  get size (): number {
    return this.#listeners.size
  }

  /** Opens a stream: the acknowledgment first, then every matching notification until it closes. */
  open (id: RequestId, filter: ListenFilter, channel: ListenChannel): void {
    const keepAlive = setInterval(() => channel.comment('keepalive'), this.#keepAliveInterval)
    keepAlive.unref()
    const listener: Listener = { id, filter, channel, keepAlive }
    this.#listeners.add(listener)
    channel.onClientGone(() => this.#remove(listener))
    channel.related({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { _meta: { [SUBSCRIPTION_ID_META_KEY]: id }, notifications: filter }
    })
  }

  deliver (notification: JSONRPCNotification): void {
    for (const listener of this.#listeners) {
      if (!wants(listener.filter, notification)) continue
      const params = { ...notification.params, _meta: { ...notification.params?._meta, [SUBSCRIPTION_ID_META_KEY]: listener.id } }
      listener.channel.related({ ...notification, params })
    }
  }

  /** Ends every stream gracefully: each gets the response to its `subscriptions/listen`. */
  close (): void {
    for (const listener of [...this.#listeners]) {
      this.#remove(listener)
      listener.channel.finish(200, { jsonrpc: '2.0', id: listener.id, result: { resultType: 'complete', _meta: { [SUBSCRIPTION_ID_META_KEY]: listener.id } } })
    }
  }

  #remove (listener: Listener): void {
    clearInterval(listener.keepAlive)
    this.#listeners.delete(listener)
  }
}
