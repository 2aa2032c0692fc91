// The PE alone: boot the built kernel + initramfs in QEMU (TCG) with -kernel/-initrd, user networking
// restricted to one forward to a stand-in appliance (test/pe/stub.ts), and check what the runner does:
// partitions the disk, streams the WIM (through a dropped connection), reports each step, posts the
// result, and leaves the files byte for byte on NTFS. A second run checks that a missing image index fails
// cleanly without touching the disk further.
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStub } from './stub.js'
import { startVm, waitForLine } from '../../src/lab/qemu.js'
import { extractNtfs, hashTree, makeTree, makeWim, partitionTable } from '../../src/lab/disk.js'
import { buildPe } from '../../src/pe/build.js'
import type { ResolvedTaskSequence } from '../../src/deployments/types.js'

const PE_DIR = process.env.NETBOOT_PE_DIR ?? join(import.meta.dirname, '../../boot/pe/build')
const TOKEN = 'tok-' + Math.random().toString(36).slice(2)
const GUEST = { ip: '10.0.2.100', port: 80 }
const URL = `http://${GUEST.ip}`

async function setup (t: Test): Promise<{ work: string, sums: Map<string, string>, wim: string }> {
  await buildPe({ outDir: PE_DIR, onLine: (l) => { t.comment(l) } })   // cached: rebuilt only when boot/pe/* changed
  const work = await mkdtemp(join(tmpdir(), 'nbe-pe-'))
  t.teardown(async () => { await rm(work, { recursive: true, force: true }) })
  const sums = await makeTree(join(work, 'tree'))
  const wim = join(work, 'test.wim')
  await makeWim(wim, [{ dir: join(work, 'tree'), name: 'Test' }])
  return { work, sums, wim }
}

function sequence (steps: ResolvedTaskSequence['steps']): ResolvedTaskSequence {
  return { deploymentId: 'd1', taskSequenceId: 'ts1', name: 'PE test', applianceUrl: URL, variables: { SERIAL: 'SN-42', COLOR: 'blue' }, steps }
}

async function boot (t: Test, work: string, port: number, disk: string, name: string) {
  const serialLog = join(work, `${name}.log`)
  const vm = await startVm(undefined, {
    firmware: 'bios', mac: '52:54:00:12:34:56', serialLog, disk, diskBytes: 2 * 1024 ** 3, kernel: join(PE_DIR, 'vmlinuz'),
    initrd: join(PE_DIR, 'initrd.img'), noReboot: true,
    append: `console=ttyS0,115200 quiet netboot.url=${URL} netboot.token=${TOKEN} netboot.deployment=d1 netboot.onfail=poweroff netboot.onsuccess=poweroff`,
    net: { user: [{ guestIp: GUEST.ip, guestPort: GUEST.port, hostPort: port }] }
  })
  t.teardown(async () => { await vm.kill() })
  return { vm, serialLog }
}

t.test('deploys a WIM onto a blank disk (MBR + NTFS), through a dropped connection', async t => {
  const { work, sums, wim } = await setup(t)
  const stub = await startStub({
    token: TOKEN,
    dropAfterBytes: 300 * 1024,
    files: { '/images/test': wim, '/files/extra.txt': join(work, 'tree/readme.txt') },
    taskSequence: sequence([
      { index: 0, type: 'partition', scheme: 'auto', filesystem: 'ntfs' },
      { index: 1, type: 'applyImage', image: 'test', url: `${URL}/images/test` } as never,
      { index: 2, type: 'applyFiles', source: 'extra.txt', destination: '/Extra/', url: `${URL}/files/extra.txt` } as never,
      { index: 3, type: 'setComputerName', computerName: 'PC-${serial}' },
      { index: 4, type: 'runCommand', command: 'echo "$COLOR" > "$TARGET/color.txt"' }
    ])
  })
  t.teardown(async () => { await stub.close() })
  const disk = join(work, 'disk.raw')
  const { vm, serialLog } = await boot(t, work, stub.port, disk, 'ok')
  const result = await stub.waitForResult(6 * 60_000).catch(async (e: Error) => {
    await waitForLine(serialLog, /$^/, 1).catch((w: Error) => { t.comment(w.message) }); throw e
  })
  t.equal(result.result, 'succeeded', `result ${JSON.stringify(result).slice(0, 2000)}`)
  t.same(stub.statuses.filter(s => s.state === 'end').map(s => s.step), [0, 1, 2, 3, 4], 'every step reported its end')
  t.ok(stub.statuses.some(s => s.step === 1 && s.state === 'progress'), 'applyImage reported progress')
  t.ok(stub.requests.some(r => r.startsWith('GET /images/test bytes=')), 'the image was read with Range requests')
  t.ok(stub.drops.some(d => d.startsWith('/images/test')), 'a connection dropped in the middle of the image')
  t.ok(stub.logs.join('').includes('interrupted at'), 'the PE resumed the interrupted range')
  t.ok(stub.logs.join('').includes('step 1 (applyImage)'), 'the log was posted')
  await vm.exited
  const pt = await partitionTable(disk)
  t.equal(pt.label, 'dos', 'BIOS ⇒ MBR')
  t.equal(pt.partitions.length, 1)
  t.equal(pt.partitions[0]?.bootable, true, 'the NTFS partition is active')
  const out = join(work, 'readback')
  await extractNtfs(disk, pt.partitions[0] as never, out, work)
  const got = await hashTree(out)
  for (const [rel, sum] of sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
  t.equal(got.get('Extra/extra.txt'), sums.get('readme.txt'), 'applyFiles copied the single file into Extra/')
  const { readFile } = await import('node:fs/promises')
  t.match(await readFile(join(out, 'Windows/Panther/unattend.xml'), 'utf8'), /<ComputerName>PC-SN-42<\/ComputerName>/, 'unattend.xml names the computer')
  t.equal(await readFile(join(out, 'color.txt'), 'utf8'), 'blue\n', 'runCommand saw the variables and $TARGET')
})

t.test('a missing image index fails the deployment with the error and stops', async t => {
  const { work, wim } = await setup(t)
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
  await boot(t, work, stub.port, join(work, 'disk.raw'), 'fail')
  const result = await stub.waitForResult(6 * 60_000)
  t.equal(result.result, 'failed')
  t.match(result.error, /image index 7 does not exist/)
  t.match(result.logTail, /image index 7 does not exist/, 'the log tail came with the result')
  t.ok(stub.statuses.some(s => s.step === 1 && s.state === 'error' && /index 7/.test(s.message ?? '')), 'the step reported error')
  t.notOk(stub.statuses.some(s => s.step === 2), 'the following step never started')
})
