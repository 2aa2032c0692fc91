// Child process for serve-signals.test.ts: runs serve's signal handling around a stop() that the test
// controls (argv[2]: 'hang' never finishes, 'ok' finishes) or crashes (argv[2] = 'crash').
import { createLogger } from '../../src/log.js'
import { installCrashHandlers, runUntilSignal } from '../../src/cli/serve.js'

const mode = process.argv[2] ?? 'ok'
const timeout = Number(process.argv[3] ?? '60000')
const log = createLogger({ level: 'info' })
installCrashHandlers(log)
const reload = async (): Promise<never> => { throw new Error('not used') }
const stop = mode === 'hang' ? async () => await new Promise<void>(() => {}) : async () => {}
const done = runUntilSignal(log, { reload }, stop, timeout)
log.info('ready')
if (mode === 'crash') setTimeout(() => { throw new Error('a bug escaped every handler') }, 10)
if (mode === 'reject') setTimeout(() => { void Promise.reject(new Error('a stray rejection')) }, 10)
process.exitCode = await done
