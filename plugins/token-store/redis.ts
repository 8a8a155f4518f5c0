import { Redis } from 'ioredis'
import { MCP_AUTH_STORE_UNAVAILABLE, type TokenStore } from './store.js'

export interface RedisStoreOptions {
  url: string
  keyPrefix: string
  /** Milliseconds a command may take before the store counts as unreachable. */
  commandTimeout?: number
}

/**
 * Shares refresh tokens and revocations across instances through Redis (ioredis). Commands are
 * not queued while disconnected: an unreachable Redis answers at once with
 * MCP_AUTH_STORE_UNAVAILABLE, and callers refuse rather than accept what they cannot check.
 */
export class RedisTokenStore implements TokenStore {
  readonly #redis: Redis

  constructor (options: RedisStoreOptions) {
    this.#redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeout ?? 2000,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
    })
    // Connection errors surface through failed commands; without a listener ioredis logs them itself.
    this.#redis.on('error', () => {})
  }

  /** Resolves once connected, or after `timeout` ms if Redis is not reachable yet (requests then get 503 until it is). */
  async connected (timeout: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return true
    return await new Promise((resolve) => {
      const timer = setTimeout(() => { this.#redis.off('ready', onReady); resolve(false) }, timeout)
      timer.unref()
      const onReady = (): void => { clearTimeout(timer); resolve(true) }
      this.#redis.once('ready', onReady)
    })
  }

  async #run<T> (command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch {
      throw new MCP_AUTH_STORE_UNAVAILABLE()
    }
  }

  async get (key: string): Promise<string | undefined> {
    return (await this.#run(() => this.#redis.get(key))) ?? undefined
  }

  async anyExists (keys: readonly string[]): Promise<boolean> {
    if (keys.length === 0) return false
    return (await this.#run(() => this.#redis.exists(...keys))) > 0
  }

  async put (key: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return
    await this.#run(() => this.#redis.set(key, value, 'PX', Math.ceil(ttlMs)))
  }

  async delete (key: string): Promise<void> {
    await this.#run(() => this.#redis.del(key))
  }

  async take (key: string): Promise<string | undefined> {
    return (await this.#run(() => this.#redis.getdel(key))) ?? undefined
  }

  async ready (): Promise<boolean> {
    try {
      return (await this.#redis.ping()) === 'PONG'
    } catch {
      return false
    }
  }

  async close (): Promise<void> {
    this.#redis.disconnect()
  }
}
