import { hashPassword } from '../plugins/credentials/password-hash.js'
import { UsageError, write, type CliIo } from './io.js'

async function readAll (stream: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8')
  return text
}

/** `hash-password`: the password comes on stdin (never as an argument, which `ps` would show). */
export async function hashPasswordCommand (io: CliIo): Promise<number> {
  const password = (await readAll(io.stdin ?? process.stdin)).replace(/\r?\n$/, '')
  if (password === '') throw new UsageError('hash-password: no password on stdin (try: printf %s "$PASSWORD" | fastify-mcp-auth hash-password)')
  write(io.stdout, await hashPassword(password))
  return 0
}
