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

/** Resolves true once connected, or false after `timeout` ms (requests then get 503 until it is). */
export async function connected (redis: Redis, timeout: number): Promise<boolean> {
  if (redis.status === 'ready') return true
  return await new Promise((resolve) => {
    const onReady = (): void => { clearTimeout(timer); resolve(true) }
    const timer = setTimeout(() => { redis.off('ready', onReady); resolve(false) }, timeout)
    timer.unref()
    redis.once('ready', onReady)
  })
}

export async function pings (redis: Redis): Promise<boolean> {
  try {
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  }
}
