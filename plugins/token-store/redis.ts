import type { Redis } from 'ioredis'
import { connected, createRedis, pings } from './redis-client.js'
import { MCP_AUTH_STORE_UNAVAILABLE } from '../../core/errors.js'
import type { StoreEntry, TokenStore } from './store.js'

/**
 * KEYS[1]: the key taken; KEYS[2..n]: the keys written, ARGV their values and lifetimes (ms) in
 * pairs. One script, so Redis runs it atomically. Every key is passed as a key: ioredis prefixes them.
 */
const SWAP = `local value = redis.call('GET', KEYS[1])
if not value then return false end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  local ttl = tonumber(ARGV[2 * i - 2])
  if ttl > 0 then redis.call('SET', KEYS[i], ARGV[2 * i - 3], 'PX', ttl) end
end
return value`

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

  /** Resolves once connected, or after `timeout` ms if Redis is not reachable yet (or at the first connection error, with `giveUpOnError`). */
  async connected (timeout: number, giveUpOnError = false): Promise<boolean> {
    return await connected(this.#redis, timeout, giveUpOnError)
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

  async swap (key: string, writes: readonly StoreEntry[]): Promise<string | undefined> {
    const args = writes.flatMap((entry) => [entry.value, String(Math.max(0, Math.ceil(entry.ttlMs)))])
    const value = await this.#run(() => this.#redis.eval(SWAP, 1 + writes.length, key, ...writes.map((entry) => entry.key), ...args))
    return typeof value === 'string' ? value : undefined
  }

  async rememberOnce (key: string, ttlMs: number): Promise<boolean> {
    return (await this.#run(() => this.#redis.set(key, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK'
  }

  async ready (): Promise<boolean> {
    return await pings(this.#redis)
  }

  async close (): Promise<void> {
    this.#redis.disconnect()
  }
}
