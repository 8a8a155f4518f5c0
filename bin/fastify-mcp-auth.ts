#!/usr/bin/env node
import { main } from './cli.js'

const result = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, handleSignals: true })
if (typeof result === 'number') process.exitCode = result
