// End to end: the ISO from `netboot media build --capture` boots a reference VM from its CD-ROM drive in QEMU
// (BIOS: SeaBIOS → GRUB i386-pc; UEFI with Secure Boot on: OVMF with Microsoft's keys → shim → Debian's signed GRUB
// CD image → the PE's signed kernel; UEFI built with --no-secure-boot: OVMF → GRUB's unsigned x86_64-efi), the PE in
// capture mode captures the VM's NTFS volume with the capture token and uploads it to the appliance in the lab; the
// VM powers off; the image in the store, applied to a directory, equals the reference tree.
import t from 'tap'
import { mkdtemp, rm, copyFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createLab, startDnsmasq, startAppliance, hashTree, sh, waitForLine, OVMF_CODE, OVMF_VARS, type Lab } from '../../src/lab/index.js'
import { OVMF_CODE_SECBOOT, OVMF_VARS_MS } from '../../src/lab/qemu.js'
import { DEFAULT_SECURE_BOOT_DIR } from '../../src/config/schema.js'
import { killChild } from '../../src/lab/netns.js'
import { buildCaptureMedia } from '../../src/images/media.js'
import { ensurePe, referenceDisk, captureLabConfig, CAPTURE_TOKEN } from './e2e-helpers.js'

const mac = (): string => '52:54:00:' + [...randomBytes(3)].map(b => b.toString(16).padStart(2, '0')).join(':')

/** QEMU booting the ISO from a CD-ROM (the lab's lab/qemu.ts boots PXE or a kernel, not a CD). */
type IsoFirmware = 'bios' | 'uefi' | 'uefi-secureboot'

async function bootIso (lab: Lab, o: { firmware: IsoFirmware, iso: string, disk: string, serialLog: string, work: string }) {
  const tap = await lab.addTap()
  const sb = o.firmware === 'uefi-secureboot'
  // Secure Boot: OVMF's variable store must sit behind SMM (q35,smm=on and a secure pflash), as src/lab/qemu.ts runs it.
  const args = ['-accel', 'tcg', '-machine', sb ? 'q35,smm=on' : 'q35', ...(sb ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []), '-m', '1024', '-smp', '1', '-nographic', '-monitor', 'none',
    '-serial', `file:${o.serialLog}`, '-no-user-config', '-nodefaults', '-no-reboot',
    '-drive', `file=${o.disk},format=raw,if=virtio,cache=unsafe`, '-cdrom', o.iso, '-boot', 'order=d',
    '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', `e1000,netdev=n0,mac=${mac()},romfile=`]
  if (o.firmware !== 'bios') {
    const vars = join(o.work, 'ovmf-vars.fd')
    await copyFile(sb ? OVMF_VARS_MS : OVMF_VARS, vars)
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${sb ? OVMF_CODE_SECBOOT : OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`)
  }
  await sh(['truncate', '-s', '0', o.serialLog])
  const child = lab.spawnInNs(['qemu-system-x86_64', ...args], { stdio: ['ignore', 'ignore', 'ignore'] })
  const exited = new Promise<number | null>(resolve => child.once('exit', c => { resolve(c) }))
  return { child, exited }
}

for (const firmware of ['bios', 'uefi', 'uefi-secureboot'] as const) {
  t.test(`capture media ISO boots (${firmware}) and captures the reference VM`, async t => {
    const peDir = await ensurePe()
    const work = await mkdtemp(join(tmpdir(), `nbi-iso-${firmware}-`))
    t.teardown(() => rm(work, { recursive: true, force: true }))
    const lab = await createLab({ prefix: 'nbi-' })
    t.teardown(() => lab.close())
    await startDnsmasq(lab, work)
    const app = await startAppliance(lab, captureLabConfig({ address: lab.address, work, peDir, refMac: mac(), blankMac: mac() }), work)

    const iso = join(work, 'capture.iso')
    const id = `media-${firmware}`
    // The plain UEFI VM boots the ISO built without the signed chain (GRUB's own x86_64-efi), the others the default.
    const lines: string[] = []
    const built = await buildCaptureMedia({ httpBaseUrl: app.baseUrl, http: { captureToken: CAPTURE_TOKEN } as any, paths: { pe: peDir } as any, bootLoaders: { secureBootDir: DEFAULT_SECURE_BOOT_DIR } },
      { out: iso, image: id, serial: true, compression: 'xpress', secureBoot: firmware !== 'uefi', onLine: l => lines.push(l) })
    t.equal(built.secureBoot, firmware !== 'uefi', `the ISO's UEFI boot is ${firmware !== 'uefi' ? 'shim and Debian\'s signed GRUB' : 'GRUB\'s own'}: ${lines.join(' / ')}`)
    const disk = join(work, 'ref.raw')
    const sums = await referenceDisk(disk, work)
    const serialLog = join(work, 'serial.log')
    const vm = await bootIso(lab, { firmware, iso, disk, serialLog, work })
    t.teardown(() => killChild(vm.child))

    await waitForLine(serialLog, /netboot-capture: result: (ok \S+|failed[^\r\n]*)\r?\n/, 10 * 60_000).then(m => {
      t.equal(m[1], `ok ${id}`, 'the PE reports the capture on the console')
    })
    if (firmware === 'uefi-secureboot') {
      const log = await readFile(serialLog, 'latin1')
      t.match(log, /EFI stub: UEFI Secure Boot is enabled/, 'with Secure Boot on, as the kernel saw it')
      t.match(log, /Kernel is locked down from EFI Secure Boot/, 'and in lockdown')
    }
    const code = await Promise.race([vm.exited, new Promise<string>(resolve => setTimeout(() => resolve('still running'), 60_000))])
    t.equal(code, 0, 'the VM powered itself off')

    const e = await app.get<{ file: string, sha256: string, wim: { compression: string, images: Array<{ name: string }> } }>(`/api/v1/images/${id}`)
    t.equal(e.wim.compression, 'xpress')
    t.equal(e.wim.images[0]?.name, id)
    const out = join(work, 'applied')
    await sh(['wimapply', join(work, 'images', e.file), '1', out])
    const got = await hashTree(out)
    for (const [rel, sum] of sums) t.equal(got.get(rel), sum, `${rel} byte for byte`)
  })
}
