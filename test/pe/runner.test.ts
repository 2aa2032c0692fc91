// The PE alone: boot the built kernel + initramfs in QEMU (TCG) with -kernel/-initrd, user networking
// restricted to one forward to a stand-in appliance (test/pe/stub.ts), and check what the runner does:
// partitions the disk, streams the WIM (through a dropped connection), reports each step, posts the
// result, and leaves the files byte for byte on NTFS (test/pe/deploy.ts, shared with the arm64 PE's test).
// A second run checks that a missing image index fails cleanly without touching the disk further.
import t from 'tap'
import { join } from 'node:path'
import { startStub } from './stub.js'
import { boot, deployAndCheck, peTarget, sequence, setup, TOKEN, URL } from './deploy.js'

const PE = peTarget('amd64')

t.test('deploys a WIM onto a blank disk (MBR + NTFS), through a dropped connection', async t => {
  await deployAndCheck(t, PE)
})

t.test('a missing image index fails the deployment with the error and stops', async t => {
  const { work, wim } = await setup(t, PE)
  const stub = await startStub({
    token: TOKEN,
    files: { '/images/test': wim },
    taskSequence: sequence([
      { index: 0, type: 'partition', scheme: 'mbr', filesystem: 'ntfs' },
      { index: 1, type: 'applyImage', image: 'test', imageIndex: 7, url: `${URL}/images/test` } as never,
      { index: 2, type: 'runCommand', command: 'echo must-not-run' }
    ])
  })
  t.teardown(async () => { await stub.close() })
  await boot(t, PE, work, stub.port, join(work, 'disk.raw'), 'fail')
  const result = await stub.waitForResult(6 * 60_000)
  t.equal(result.result, 'failed')
  t.match(result.error, /image index 7 does not exist/)
  t.match(result.logTail, /image index 7 does not exist/, 'the log tail came with the result')
  t.ok(stub.statuses.some(s => s.step === 1 && s.state === 'error' && /index 7/.test(s.message ?? '')), 'the step reported error')
  t.notOk(stub.statuses.some(s => s.step === 2), 'the following step never started')
})
