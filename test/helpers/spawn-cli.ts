import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ENTRY = fileURLToPath(new URL('../../bin/fastify-mcp-auth.ts', import.meta.url))
/** The TypeScript loader tap runs this test with, so the child runs the same sources. */
const LOADER = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the real command-line entry in a child process and waits for it to exit. */
export async function runCli (args: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [...LOADER, ENTRY, ...args], {
    env: { PATH: process.env.PATH, TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(stdin)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout, stderr }
}
