import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import type { Test } from 'tap'
import { onPath, whenAvailable } from './external.js'
import { freePort } from './ports.js'

export interface RedisServer {
  url: string
  /** Stops it (a redis-server this suite started), to test what happens when Redis goes away. */
  stop: () => Promise<void>
  /** Starts it again on the same port (after stop). */
  start: () => Promise<void>
}

const HOW_TO = 'install redis-server (Debian: apt-get install redis-server) or point REDIS_URL at a Redis the tests may use'
const binary = onPath('redis-server')
const external = process.env.REDIS_URL === undefined || process.env.REDIS_URL === '' ? undefined : process.env.REDIS_URL

async function answersPing (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
  })
}

/**
 * A real redis-server (Debian's package) on a free loopback port, without persistence. Waiting
 * for start-up polls PING: a readiness probe, not a measurement.
 */
async function startRedisServer (): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const exited = new Promise<never>((_resolve, reject) => child?.once('error', reject))
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await Promise.race([answersPing(port), exited])) return
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    throw new Error(`redis-server did not start on port ${port}`)
  }
  const stop = async (): Promise<void> => {
    const running = child
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGTERM')
    await exited
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, stop, start }
}

/**
 * REDIS_URL, when set: a database of it (1–15, picked at random per test, and emptied first, so
 * runs and test files do not see each other's counters). It cannot be stopped.
 */
async function externalDatabase (url: string): Promise<string> {
  const { Redis } = await import('ioredis')
  const database = 1 + Math.floor(Math.random() * 15)
  const target = new URL(url)
  target.pathname = `/${database}`
  const client = new Redis(target.href)
  await client.flushdb()
  client.disconnect()
  return target.href
}

/**
 * A test that needs a real Redis: a redis-server of its own when the machine has one, else
 * REDIS_URL; skipped with one line saying how to run it when there is neither. `own` tests
 * (Redis going away) need a redis-server they started.
 */
export function redisTest (t: Test, name: string, fn: (t: Test, redis: RedisServer) => Promise<void>, options: { own?: boolean } = {}): void {
  const available = binary || (external !== undefined && options.own !== true)
  whenAvailable(t, 'redis', available, name, options.own === true && external !== undefined ? `${HOW_TO} (this one needs a redis-server of its own, so REDIS_URL is not enough)` : HOW_TO, async (t) => {
    if (binary) {
      const redis = await startRedisServer()
      t.teardown(redis.stop)
      await fn(t, redis)
      return
    }
    const url = await externalDatabase(external as string)
    await fn(t, { url, stop: async () => { throw new Error('REDIS_URL cannot be stopped') }, start: async () => {} })
  })
}
