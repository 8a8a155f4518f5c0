import { execFileSync, spawn } from 'node:child_process'
import { freePort, waitUntilListening } from './processes.js'

export interface BenchRedis {
  url: string
  /** Commands Redis has executed so far, those run inside scripts included, the INFO calls that read this not. */
  commands: () => number
  /** Script calls (EVAL, EVALSHA, FCALL and their _RO forms) so far: each is one round trip. */
  scriptCalls: () => number
  /** Calls per command name so far (INFO excluded). */
  commandStats: () => Record<string, number>
  /**
   * Reads Redis has done from its clients' sockets so far (INFO stats total_reads_processed): one
   * per batch of commands a client sent together, so per request it counts round trips.
   */
  reads: () => number
  stop: () => Promise<void>
}

const SCRIPT_CALLS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])

const onPath = (command: string): boolean => {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * A throw-away redis-server on a free loopback port, with persistence off; undefined when
 * `redis-server` (or `redis-cli`, which reads its command counts) is not on PATH.
 */
export async function startRedis (): Promise<BenchRedis | undefined> {
  if (!onPath('redis-server') || !onPath('redis-cli')) return undefined
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await waitUntilListening(port, child)
  const commandStats = (): Record<string, number> => {
    const info = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' })
    const stats: Record<string, number> = {}
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== undefined && match[1] !== 'info') stats[match[1]] = Number(match[2])
    }
    return stats
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    commandStats,
    reads: () => Number(/^total_reads_processed:(\d+)/m.exec(execFileSync('redis-cli', ['-p', String(port), 'INFO', 'stats'], { encoding: 'utf8' }))?.[1] ?? NaN),
    commands: () => Object.values(commandStats()).reduce((sum, calls) => sum + calls, 0),
    scriptCalls: () => Object.entries(commandStats()).filter(([name]) => SCRIPT_CALLS.has(name)).reduce((sum, [, calls]) => sum + calls, 0),
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.on('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}
