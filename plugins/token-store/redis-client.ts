import { Redis } from 'ioredis'

/**
 * An ioredis client that fails fast: no offline queue and no retries per command, so a Redis that
 * cannot be reached makes a command fail at once (callers answer 503) instead of hanging requests.
 * It keeps reconnecting in the background.
 */
export function createRedis (url: string, keyPrefix?: string): Redis {
  const redis = new Redis(url, {
    ...(keyPrefix === undefined ? {} : { keyPrefix }),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // Commands issued in the same tick (a request's rate-limit counters) travel in one write.
    enableAutoPipelining: true
  })
  // Connection errors surface through failed commands; without a listener ioredis prints them.
  redis.on('error', () => {})
  return redis
}

/**
 * Resolves true once connected, or false after `timeout` ms (requests then get 503 until it is).
 * With `giveUpOnError`, false at the first connection error too: a one-shot command does not
 * wait for the reconnects a server would.
 */
export async function connected (redis: Redis, timeout: number, giveUpOnError = false): Promise<boolean> {
  if (redis.status === 'ready') return true
  return await new Promise((resolve) => {
    const settle = (result: boolean): void => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      redis.off('error', onError)
      resolve(result)
    }
    const onReady = (): void => { settle(true) }
    const onError = (): void => { settle(false) }
    const timer = setTimeout(() => { settle(false) }, timeout)
    timer.unref()
    redis.once('ready', onReady)
    if (giveUpOnError) redis.once('error', onError)
  })
}

export async function pings (redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  }
}
