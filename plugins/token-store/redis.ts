import type { Redis } from 'ioredis'
import { connected, createRedis, pings } from './redis-client.js'
import { MCP_AUTH_STORE_UNAVAILABLE, type TokenStore } from './store.js'

export interface RedisStoreOptions {
  url: string
  keyPrefix: string
}

/**
 * Shares refresh tokens and revocations across instances through Redis (ioredis). Commands are
 * not queued while disconnected: an unreachable Redis answers at once with
 * MCP_AUTH_STORE_UNAVAILABLE, and callers refuse rather than accept what they cannot check.
 */
export class RedisTokenStore implements TokenStore {
  readonly #redis: Redis

  constructor (options: RedisStoreOptions) {
    this.#redis = createRedis(options.url, options.keyPrefix)
  }

  /** Resolves once connected, or after `timeout` ms if Redis is not reachable yet. */
  async connected (timeout: number): Promise<boolean> {
    return await connected(this.#redis, timeout)
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
    return await pings(this.#redis)
  }

  async close (): Promise<void> {
    this.#redis.disconnect()
  }
}
