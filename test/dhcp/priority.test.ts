// src/dhcp/thread/priority.ts with a stand-in for node:os: what the DHCP thread's priority becomes, and that a
// refusal is an outcome with its reason, never an exception. (thread.test.ts checks the kernel's side, as root;
// test/cli/serve-netns.test.ts the refusal of an unprivileged `netboot serve`.)
import t from 'tap'
import { raiseThreadPriority } from '../../src/dhcp/thread/priority.js'

function fakeOs (start: number, refuse?: string): { get: (id: number) => number, set: (id: number, n: number) => void, calls: Array<[number, number]> } {
  let nice = start
  const calls: Array<[number, number]> = []
  return {
    calls,
    get: () => nice,
    set: (id, n) => {
      calls.push([id, n])
      if (refuse !== undefined) throw Object.assign(new Error(`A system error occurred: uv_os_setpriority returned ${refuse}`), { code: 'ERR_SYSTEM_ERROR' })
      nice = n
    }
  }
}

t.test('the thread goes `boost` levels below the nice value it inherited', async t => {
  const os = fakeOs(0)
  t.same(raiseThreadPriority(1234, 5, os), { nice: -5, was: 0 })
  t.same(os.calls, [[1234, -5]], 'set on that thread id only')
  const niced = fakeOs(10)
  t.same(raiseThreadPriority(1, 5, niced), { nice: 5, was: 10 }, 'relative to the process (systemd Nice=10 → 5)')
})

t.test('never below -20', async t => {
  t.same(raiseThreadPriority(1, 5, fakeOs(-18)), { nice: -20, was: -18 })
  const top = fakeOs(-20)
  t.match(raiseThreadPriority(1, 5, top), { nice: -20, notRaised: /already at nice -20/ })
  t.same(top.calls, [], 'nothing set')
})

t.test('0 leaves the thread alone', async t => {
  const os = fakeOs(0)
  t.match(raiseThreadPriority(1, 0, os), { nice: 0, was: 0, notRaised: 'dhcp.threadPriorityBoost is 0' })
  t.same(os.calls, [])
})

t.test('a refusal (no root, no CAP_SYS_NICE) leaves the nice value and says what would allow it', async t => {
  for (const code of ['EACCES (permission denied)', 'EPERM (operation not permitted)']) {
    const out = raiseThreadPriority(1, 5, fakeOs(0, code))
    t.match(out, { nice: 0, was: 0, notRaised: /needs root or CAP_SYS_NICE/ }, code)
  }
  t.match(raiseThreadPriority(1, 5, fakeOs(0, 'ESRCH (no such process)')), { nice: 0, notRaised: /ESRCH/ }, 'another error is reported as it is')
})

t.test('no thread id (not Linux), or one that cannot be read', async t => {
  t.match(raiseThreadPriority(undefined, 5), { notRaised: /no thread id/ })
  t.match(raiseThreadPriority(1, 5, { get: () => { throw new Error('ESRCH') }, set: () => {} }), { notRaised: /cannot read/ })
})
