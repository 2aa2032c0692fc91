// serve's process handling: SIGTERM stops cleanly, a second signal or a hung stop exits 1 anyway,
// an uncaught exception is logged and exits 1, a stray rejection is logged and the daemon keeps running.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { repo } from './serve-harness.js'

function child (t: Test, ...args: string[]) {
  const p = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/cli/serve-signals-child.ts'), ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  const msgs: string[] = []
  const waiters: Array<[RegExp, () => void]> = []
  let buf = ''
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    const lines = buf.split('\n')
    buf = lines.pop() ?? ''
    for (const l of lines) {
      const msg = String((JSON.parse(l) as { msg?: string }).msg)
      msgs.push(msg)
      for (const [re, fn] of [...waiters]) if (re.test(msg)) fn()
    }
  })
  const exited = new Promise<number | null>(resolve => p.on('exit', code => resolve(code)))
  t.teardown(async () => { if (p.exitCode === null && p.signalCode === null) { p.kill('SIGKILL'); await exited } })
  const waitMsg = async (re: RegExp): Promise<void> => {
    if (msgs.some(m => re.test(m))) return
    await new Promise<void>(resolve => waiters.push([re, resolve]))
  }
  return { p, msgs, exited, waitMsg }
}

t.test('SIGTERM: clean stop, exit 0', async t => {
  const c = child(t, 'ok')
  await c.waitMsg(/^ready$/)
  c.p.kill('SIGTERM')
  t.equal(await c.exited, 0)
  t.same(c.msgs, ['ready', 'stopping', 'stopped'])
})

t.test('a second signal while stopping exits 1 at once', async t => {
  const c = child(t, 'hang')
  await c.waitMsg(/^ready$/)
  c.p.kill('SIGTERM')
  await c.waitMsg(/^stopping$/)
  c.p.kill('SIGINT')
  t.equal(await c.exited, 1)
  t.ok(c.msgs.includes('second signal: exiting without a clean stop'))
  t.notOk(c.msgs.includes('stopped'))
})

t.test('a stop that hangs past the timeout exits 1 anyway', async t => {
  const c = child(t, 'hang', '300')
  await c.waitMsg(/^ready$/)
  c.p.kill('SIGTERM')
  t.equal(await c.exited, 1)
  t.ok(c.msgs.includes('stop took over 300 ms: exiting anyway'))
})

t.test('an uncaught exception is logged as fatal and exits 1', async t => {
  const c = child(t, 'crash')
  t.equal(await c.exited, 1)
  t.ok(c.msgs.includes('uncaught exception: exiting (systemd restarts the service)'))
})

t.test('a stray promise rejection is logged; the daemon keeps running', async t => {
  const c = child(t, 'reject')
  await c.waitMsg(/unhandled promise rejection/)
  t.equal(c.p.exitCode, null, 'still running')
  c.p.kill('SIGTERM')
  t.equal(await c.exited, 0)
})
