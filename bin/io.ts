/** Streams and environment a command runs with; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  stdin?: NodeJS.ReadableStream
  /** Install signal handlers for a graceful shutdown (the real process does; tests do not). */
  handleSignals?: boolean
}

/** A wrong command line: reported with the usage text and exit code 2. */
export class UsageError extends Error {}

export function write (stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : text + '\n')
}

/** A command that cannot do its work (the message says why): reported without the usage text, with `exitCode`. */
export class CommandError extends Error {
  readonly exitCode: number

  constructor (message: string, exitCode: number) {
    super(message)
    this.exitCode = exitCode
  }
}
