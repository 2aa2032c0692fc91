// QEMU VMs for the lab (TCG: KVM is not usable here). The serial console goes to a file that tests read
// with waitForLine. BIOS VMs PXE-boot through Debian's iPXE ROM on an e1000; UEFI VMs run OVMF from
// pflash copies and PXE-boot through the e1000's EFI driver (efi-e1000.rom). 'uefi-http' VMs run OVMF with no
// option ROM on a virtio NIC (EDK2's own VirtioNetDxe) and its PXE turned off through fw_cfg, so the firmware
// UEFI-HTTP-boots (option 93 = 16) the URL the appliance offers. 'uefi-arm64' VMs are qemu-system-aarch64 -M virt
// running AAVMF (EDK2's ArmVirtQemu) from pflash copies, with EDK2's own VirtioNetDxe + PXE on a virtio NIC (option
// 93 = 11); with kernel/initrd the firmware starts the kernel's EFI stub itself (QemuKernelLoaderFsDxe), so the
// guest runs under UEFI with ACPI, as an arm64 server booted by iPXE does. 'uefi-secureboot' VMs run OVMF's Secure
// Boot build with Microsoft's keys enrolled (Secure Boot on, as a PC ships) and EDK2's own PXE on a virtio NIC: QEMU's
// iPXE option ROM would do the PXE itself, and its PXE base code emulation hands shim a wrong file size for
// grubx64.efi ("Malformed binary after Attribute Certificate Table"), which real firmware does not.
// 'uefi-secureboot-http' is the same firmware UEFI-HTTP-booting, as 'uefi-http' does.
import { type ChildProcess } from 'node:child_process'
import { copyFile, open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Lab } from './netns.js'
import { killChild, sh } from './netns.js'
import { peSerialConsole } from '../pe/arch.js'

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
/** OVMF built with Secure Boot and SMM (its variable store must sit behind SMM: q35,smm=on and a secure pflash). */
export const OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd'
/** Variables with Microsoft's KEK and db (Windows PCA and UEFI CA) enrolled and Secure Boot on, as PCs ship. */
export const OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd'

export const AAVMF_CODE = '/usr/share/AAVMF/AAVMF_CODE.fd'
export const AAVMF_VARS = '/usr/share/AAVMF/AAVMF_VARS.fd'

export type Firmware = 'bios' | 'uefi' | 'uefi-http' | 'uefi-arm64' | 'uefi-secureboot' | 'uefi-secureboot-http'

/** OVMF's Secure Boot build with Microsoft's keys (PXE, or HTTP Boot with its PXE off). */
export function isSecureBoot (f: Firmware): boolean { return f === 'uefi-secureboot' || f === 'uefi-secureboot-http' }
/** EDK2's HTTP Boot: PXE turned off through fw_cfg. */
export function isHttpBoot (f: Firmware): boolean { return f === 'uefi-http' || f === 'uefi-secureboot-http' }

/** The guest's architecture: x86-64 (q35) or arm64 (virt). */
export function isArm64 (f: Firmware): boolean { return f === 'uefi-arm64' }
/** The QEMU binary of a firmware's machine. */
export function qemuBinary (f: Firmware): string { return isArm64(f) ? 'qemu-system-aarch64' : 'qemu-system-x86_64' }
/** The kernel's serial console on that machine (the PE's, src/pe/arch.ts). */
export function serialConsole (f: Firmware): string { return peSerialConsole(isArm64(f) ? 'arm64' : 'amd64') }

export interface VmOptions {
  firmware: Firmware
  /** disk image path (raw); created sparse with diskBytes if it does not exist */
  disk?: string
  diskBytes?: number
  mac: string
  /** file the serial console is written to */
  serialLog: string
  /** directory for the OVMF/AAVMF vars copy (default: next to serialLog) */
  workDir?: string
  memoryMiB?: number
  /** virtual CPUs (default 1); arm64 under TCG runs one host thread per vCPU (MTTCG) */
  cpus?: number
  /** boot a kernel directly instead of PXE (PE tests) */
  kernel?: string
  initrd?: string
  append?: string
  /** network: a tap of the lab (default), or QEMU user networking with guest→host forwards (no lab) */
  net?: { tap: string } | { user: Array<{ guestIp: string, guestPort: number, hostPort: number }> }
  /** exit instead of rebooting */
  noReboot?: boolean
  /** namespace to run QEMU in (default lab.ns); needed for a tap */
  lab?: Lab
}

export interface Vm {
  child: ChildProcess
  serialLog: string
  /** when QEMU was started (ms since epoch) */
  startedAt: number
  /** resolves with QEMU's exit code */
  exited: Promise<number | null>
  kill (): Promise<void>
}

/** A blank sparse raw disk. */
export async function blankDisk (path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w')
  await fh.truncate(bytes)
  await fh.close()
}

function netArgs (o: VmOptions): string[] {
  const rom = o.firmware === 'uefi' ? 'efi-e1000.rom' : 'pxe-e1000.rom'
  const dev = o.firmware === 'uefi-arm64' || o.firmware === 'uefi-secureboot'
    // romfile= keeps QEMU's x86 iPXE ROM off the NIC: AAVMF's VirtioNetDxe + PxeBcDxe answer (option 93 = 11).
    ? ['-device', `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=,disable-legacy=on,bootindex=1`]
    : isHttpBoot(o.firmware)
    // OvmfPkg/RUNTIME_CONFIG.md: IPv4PXESupport/IPv6PXESupport=no leave HTTP Boot (IPv4, then IPv6) as the NIC's
    // boot options; romfile= keeps QEMU's iPXE ROM off the NIC, so EDK2's own network stack answers.
    ? ['-device', `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=,disable-legacy=on,bootindex=1`,
        '-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=no']
    : ['-device', `e1000,netdev=n0,mac=${o.mac},romfile=/usr/lib/ipxe/qemu/${rom},bootindex=1`]
  const net = o.net ?? { tap: '' }
  if ('tap' in net) return ['-netdev', `tap,id=n0,ifname=${net.tap},script=no,downscript=no`, ...dev]
  // restrict=on: the guest reaches nothing but the explicit forwards (each connection runs a busybox nc)
  const fwd = net.user.map(f => `,guestfwd=tcp:${f.guestIp}:${f.guestPort}-cmd:busybox nc 127.0.0.1 ${f.hostPort}`).join('')
  return ['-netdev', `user,id=n0,restrict=on${fwd}`, ...dev]
}

function machineArgs (o: VmOptions): string[] {
  // virt: the PL011 is serial 0, the PCIe host is generic ECAM (both built into Debian's arm64 kernel).
  // cortex-a57 (ARMv8.0, all Debian's arm64 kernel needs): AAVMF to the PE's runner in ~13 s under TCG here, where
  // -cpu max took ~35 s (its QARMA pointer authentication is costly to emulate).
  if (isArm64(o.firmware)) return ['-machine', 'virt', '-cpu', 'cortex-a57']
  // Secure Boot OVMF keeps its variables in SMM-protected flash: without SMM it stops before booting anything.
  if (isSecureBoot(o.firmware)) return ['-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on']
  return ['-machine', 'q35']
}

async function firmwareArgs (o: VmOptions): Promise<string[]> {
  if (o.firmware === 'bios') return []
  const [code, varsTemplate, prefix] = isArm64(o.firmware)
    ? [AAVMF_CODE, AAVMF_VARS, 'aavmf']
    : isSecureBoot(o.firmware) ? [OVMF_CODE_SECBOOT, OVMF_VARS_MS, 'ovmf-sb'] : [OVMF_CODE, OVMF_VARS, 'ovmf']
  const vars = join(o.workDir ?? join(o.serialLog, '..'), `${prefix}-vars-${o.mac.replace(/:/g, '')}.fd`)
  await copyFile(varsTemplate, vars)
  return ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`]
}

export async function startVm (lab: Lab | undefined, o: VmOptions): Promise<Vm> {
  const args = ['-accel', 'tcg', ...machineArgs(o), '-m', String(o.memoryMiB ?? 1024), '-smp', String(o.cpus ?? 1),
    '-nographic', '-monitor', 'none', '-serial', `file:${o.serialLog}`, '-no-user-config', '-nodefaults']
  args.push(...await firmwareArgs(o))
  if (o.disk !== undefined) {
    await stat(o.disk).catch(async () => { await blankDisk(o.disk as string, o.diskBytes ?? 2 * 1024 ** 3) })
    args.push('-drive', `file=${o.disk},format=raw,if=none,id=d0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2')
  }
  args.push(...netArgs(o))
  if (o.kernel !== undefined) {
    args.push('-kernel', o.kernel)
    if (o.initrd !== undefined) args.push('-initrd', o.initrd)
    args.push('-append', o.append ?? `console=${serialConsole(o.firmware)}`)
  }
  if (o.noReboot === true) args.push('-no-reboot')
  await sh(['truncate', '-s', '0', o.serialLog])
  const startedAt = Date.now()
  const qemu = qemuBinary(o.firmware)
  const child = lab !== undefined
    ? lab.spawnInNs([qemu, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : (await import('node:child_process')).spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', (c) => { resolve(c) }))
  void exited.then((c) => { if (c !== 0 && c !== null && stderr !== '') process.stderr.write(`qemu exited ${c}: ${stderr}\n`) })
  return { child, serialLog: o.serialLog, startedAt, exited, kill: async () => { await killChild(child) } }
}

/**
 * Wait until the serial log (a file QEMU appends to) has a line matching re; resolves with the match.
 * `from` skips what was there before (e.g. the first boot, when waiting for the second).
 */
export async function waitForLine (serialLog: string, re: RegExp, timeoutMs: number, opts: { from?: number, vm?: Vm } = {}): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs
  let vmGone = false
  void opts.vm?.exited.then(() => { vmGone = true })
  for (;;) {
    const text = (await readFile(serialLog, 'latin1').catch(() => '')).slice(opts.from ?? 0)
    const m = text.match(re)
    if (m !== null) return m
    if (vmGone || Date.now() > deadline) {
      const tail = text.split(/\r?\n/).slice(-25).join('\n')
      throw new Error(`${vmGone ? 'VM exited' : `timeout after ${timeoutMs} ms`} waiting for ${String(re)} in ${serialLog}; last lines:\n${tail}`)
    }
    await new Promise(r => setTimeout(r, 500))
  }
}

/** Current size of the serial log (to pass as `from`). */
export async function serialSize (serialLog: string): Promise<number> {
  return (await readFile(serialLog, 'latin1').catch(() => '')).length
}

/**
 * The facts a test system printed on the serial console as `MARK … name=value` or `name=[a value with spaces]`
 * (linux-image.ts, debian-image.ts): fact('name') is the first such value after the mark, '' when none.
 */
export function serialFacts (text: string, mark: string): (name: string) => string {
  return (name) => new RegExp(`${mark} [^\\n]*?${name}=(\\[[^\\]]*\\]|\\S+)`).exec(text)?.[1]?.replace(/^\[|\]$/g, '') ?? ''
}
