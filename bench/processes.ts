import { spawn, type ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, rssMiB } from './cpu.js'

export interface BenchProcess {
  port: number
  pid: number
  url: string
  /** Resident set size, in MiB. */
  rss: () => number
  /** CPU seconds used so far. */
  cpu: () => number
  stop: () => Promise<void>
}

export function distPath (relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url))
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Polls until the port accepts connections (start-up, not a measurement, so polling is fine). */
export async function waitUntilListening (port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    if (await accepts(port)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listened on ${port}`)
}

/** Starts a Node script in its own process, listening on a free port it is given as PORT. */
export async function startNode (script: string, args: string[], env: NodeJS.ProcessEnv): Promise<BenchProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, [script, ...args.map((arg) => arg.replace('{port}', String(port)))], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  await waitUntilListening(port, child)
  const pid = child.pid ?? NaN
  return {
    port,
    pid,
    url: `http://127.0.0.1:${port}/mcp`,
    rss: () => rssMiB(pid),
    cpu: () => cpuSeconds(pid),
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.on('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}
