#!/usr/bin/env node
// The `netboot` executable: argv → src/cli/index.ts. Nothing else lives here (see src/cli/serve.ts for the daemon).
import { runCli } from './cli/index.js'

const code = await runCli(process.argv.slice(2), {
  out: (line) => { process.stdout.write(`${line}\n`) },
  err: (line) => { process.stderr.write(`${line}\n`) }
})
process.exitCode = code
// A command that resolved must not be kept alive by a stray handle (a colleague's timer, a socket): exit anyway.
setTimeout(() => process.exit(code), 2000).unref()
