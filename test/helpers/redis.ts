import { spawn, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'

export interface RedisServer {
  url: string
  port: number
  stop: () => Promise<void>
  /** Starts it again on the same port (after stop). */
  start: () => Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

async function answersPing (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => resolve(false))
  })
}

/**
 * A real redis-server (from Debian's redis-server package; .ci/run installs it when missing) on a
 * free loopback port, without persistence. Waiting for start-up polls PING: a readiness probe,
 * not a measurement.
 */
export async function startRedis (): Promise<RedisServer> {
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
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}
