// Shared by the PE runner tests of both architectures: the built PE booted directly (-kernel/-initrd) in QEMU
// (TCG) with user networking restricted to one forward to a stand-in appliance (stub.ts), and the deployment
// both must carry out the same way: partition, stream the WIM through a dropped connection, applyFiles,
// setComputerName, runCommand, every step reported, the result posted, the files on NTFS byte for byte.
import { type Test } from 'tap'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStub } from './stub.js'
import { serialConsole, startVm, waitForLine, type Firmware } from '../../src/lab/qemu.js'
import { blkid, extractNtfs, hashTree, makeTree, makeWim, partitionTable } from '../../src/lab/disk.js'
import { buildPe } from '../../src/pe/build.js'
import { peDirFor, type PeArch } from '../../src/pe/arch.js'
import type { ResolvedTaskSequence } from '../../src/deployments/types.js'

export const PE_BASE = process.env.NETBOOT_PE_DIR ?? join(import.meta.dirname, '../../boot/pe/build')
export const TOKEN = 'tok-' + Math.random().toString(36).slice(2)
const GUEST = { ip: '10.0.2.100', port: 80 }
export const URL = `http://${GUEST.ip}`

export interface PeTarget {
  arch: PeArch
  /** where the PE is built: paths.pe, or its arm64/ directory */
  dir: string
  /**
   * amd64: SeaBIOS loads the kernel (no EFI ⇒ the PE partitions MBR). arm64: AAVMF starts the kernel's EFI stub,
   * the way iPXE's arm64 EFI build does on a real machine (UEFI + ACPI ⇒ GPT with an ESP); there is no BIOS-like
   * arm64 boot path a deployment would take.
   */
  firmware: Firmware
  /** 1: -smp 2 saved only ~4 s of the arm64 deployment's ~58 s (MTTCG) and takes both cores from the other tap job */
  cpus: number
}

export function peTarget (arch: PeArch): PeTarget {
  return arch === 'arm64'
    ? { arch, dir: peDirFor(PE_BASE, arch), firmware: 'uefi-arm64', cpus: 1 }
    : { arch, dir: peDirFor(PE_BASE, arch), firmware: 'bios', cpus: 1 }
}

export async function setup (t: Test, pe: PeTarget): Promise<{ work: string, sums: Map<string, string>, wim: string }> {
  // cached: rebuilt only when boot/pe/* (or the packages) changed
  await buildPe({ outDir: pe.dir, arch: pe.arch, onLine: (l) => { t.comment(l) } })
  const work = await mkdtemp(join(tmpdir(), `nbe-pe-${pe.arch}-`))
  t.teardown(async () => { await rm(work, { recursive: true, force: true }) })
  const sums = await makeTree(join(work, 'tree'))
  const wim = join(work, 'test.wim')
  await makeWim(wim, [{ dir: join(work, 'tree'), name: 'Test' }])
  return { work, sums, wim }
}

export function sequence (steps: ResolvedTaskSequence['steps']): ResolvedTaskSequence {
  return { deploymentId: 'd1', taskSequenceId: 'ts1', name: 'PE test', applianceUrl: URL, variables: { SERIAL: 'SN-42', COLOR: 'blue' }, steps }
}

export async function boot (t: Test, pe: PeTarget, work: string, port: number, disk: string, name: string) {
  const serialLog = join(work, `${name}.log`)
  const vm = await startVm(undefined, {
    firmware: pe.firmware, cpus: pe.cpus, mac: '52:54:00:12:34:56', serialLog, workDir: work, disk, diskBytes: 2 * 1024 ** 3,
    kernel: join(pe.dir, 'vmlinuz'), initrd: join(pe.dir, 'initrd.img'), noReboot: true,
    append: `console=${serialConsole(pe.firmware)} quiet netboot.url=${URL} netboot.token=${TOKEN} netboot.deployment=d1 netboot.onfail=poweroff netboot.onsuccess=poweroff`,
    net: { user: [{ guestIp: GUEST.ip, guestPort: GUEST.port, hostPort: port }] }
  })
  t.teardown(async () => { await vm.kill() })
  return { vm, serialLog }
}

/** The whole deployment on a blank disk, with every check; the partition table is MBR or GPT by firmware. */
export async function deployAndCheck (t: Test, pe: PeTarget): Promise<void> {
  const { work, sums, wim } = await setup(t, pe)
  const stub = await startStub({
    token: TOKEN,
    dropAfterBytes: 300 * 1024,
    files: { '/images/test': wim, '/files/extra.txt': join(work, 'tree/readme.txt') },
    taskSequence: sequence([
      { index: 0, type: 'partition', scheme: 'auto', filesystem: 'ntfs' },
      { index: 1, type: 'applyImage', image: 'test', url: `${URL}/images/test` } as never,
      { index: 2, type: 'applyFiles', source: 'extra.txt', destination: '/Extra/', url: `${URL}/files/extra.txt` } as never,
      { index: 3, type: 'setComputerName', computerName: 'PC-${serial}' },
      { index: 4, type: 'runCommand', command: 'echo "$COLOR" > "$TARGET/color.txt"; uname -m > "$TARGET/machine.txt"' }
    ])
  })
  t.teardown(async () => { await stub.close() })
  const disk = join(work, 'disk.raw')
  const { vm, serialLog } = await boot(t, pe, work, stub.port, disk, 'ok')
  const result = await stub.waitForResult(8 * 60_000).catch(async (e: Error) => {
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
  let data
  if (pe.firmware === 'bios') {
    t.equal(pt.label, 'dos', 'BIOS ⇒ MBR')
    t.equal(pt.partitions.length, 1)
    t.equal(pt.partitions[0]?.bootable, true, 'the NTFS partition is active')
    data = pt.partitions[0]
  } else {
    t.equal(pt.label, 'gpt', 'UEFI ⇒ GPT')
    t.equal(pt.partitions.length, 2, 'EFI system partition + data partition')
    t.equal(pt.partitions[0]?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'partition 1 is the ESP')
    t.match(await blkid(disk, pt.partitions[0] as never), /TYPE=vfat/, 'the ESP is FAT')
    t.equal(pt.partitions[1]?.type, 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 'partition 2 is Basic data')
    data = pt.partitions[1]
  }
  const out = join(work, 'readback')
  await extractNtfs(disk, data as never, out, work)
  const got = await hashTree(out)
  for (const [rel, sum] of sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
  t.equal(got.get('Extra/extra.txt'), sums.get('readme.txt'), 'applyFiles copied the single file into Extra/')
  const unattend = await readFile(join(out, 'Windows/Panther/unattend.xml'), 'utf8')
  t.match(unattend, /<ComputerName>PC-SN-42<\/ComputerName>/, 'unattend.xml names the computer')
  t.match(unattend, `processorArchitecture="${pe.arch}"`, `the unattend component is for ${pe.arch} Windows`)
  t.equal(await readFile(join(out, 'color.txt'), 'utf8'), 'blue\n', 'runCommand saw the variables and $TARGET')
  t.equal(await readFile(join(out, 'machine.txt'), 'utf8'), pe.arch === 'arm64' ? 'aarch64\n' : 'x86_64\n', 'the PE ran on the expected CPU')
}
