import { PassThrough } from 'node:stream'
import type { CliIo } from '../../bin/cli.js'

/** The command line's streams in memory, with what was written to each so far. */
export function memoryIo (env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string, err: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  return { stdout, stderr, env, out: () => out, err: () => err }
}
