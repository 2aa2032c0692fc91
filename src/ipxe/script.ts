// iPXE scripts, rendered from plain views of a boot decision. Pure: no fastify, no config, no store.
// Command reference: https://ipxe.org/cmd (chain, kernel, initrd, sanboot, menu, item, choose, login, sleep).
// Every value that reaches a script is either a URL we built (query values percent-encoded), an id matching the
// config's Id pattern, or text passed through `label()`, so nothing a client or an admin writes can inject commands.
import type { Arch } from '../config/schema.js'
import { peArchFor, peSerialConsole, peUrlPath, type PeArch } from '../pe/arch.js'

/**
 * iPXE settings sent to /boot/decide, as `${setting}` references. `netX` is the interface that last opened, i.e.
 * the one that booted. Only string settings get `:uristring`: a type override reinterprets the raw bytes, so
 * `${netX/mac:uristring}` sends the MAC's bytes as text (`RT` for 52:54:00…, cut at the 00 byte) — seen with
 * Debian's iPXE 1.0.0+git-20190125 in QEMU. MAC and UUID are formatted by their own types (hex, 8-4-4-4-12),
 * which are URL-safe; iPXE percent-encodes the MAC's colons itself.
 */
export const IDENTITY_VARS: ReadonlyArray<[string, string]> = [
  ['mac', 'netX/mac'],
  ['uuid', 'uuid'],
  ['serial', 'serial:uristring'],
  ['manufacturer', 'manufacturer:uristring'],
  ['product', 'product:uristring'],
  ['platform', 'platform'],
  ['buildarch', 'buildarch']
]

/** Seconds a failed boot waits before it asks again (store or policy failure, download error). */
export const RETRY_DELAY_SECONDS = 10

/** A menu entry; `unavailable` (why it cannot start on this machine, e.g. no PE for its architecture) shows it as text only. */
export interface MenuItem { id: string, label: string, unavailable?: string }

export type ScriptView =
  | { kind: 'entry', baseUrl: string }
  | { kind: 'local', baseUrl: string, arch: Arch, reason: string }
  | { kind: 'deploy', baseUrl: string, arch: Arch, pe: PeArch, deploymentId: string, token: string, title: string }
  | { kind: 'deploy-winpe', baseUrl: string, arch: Arch, deploymentId: string, token: string, title: string }
  | { kind: 'login', baseUrl: string, arch: Arch, mac: string }
  | { kind: 'menu', baseUrl: string, arch: Arch, mac: string, items: MenuItem[], timeoutMs: number, withPassword: boolean }
  | { kind: 'refused', baseUrl: string, arch: Arch, message: string }
  | { kind: 'retry', baseUrl: string, message: string }

/** Text safe on an iPXE command line: printable ASCII without `$` (expansion), quotes, backslash or `#`. */
export function label (text: string): string {
  const safe = text.replace(/[^A-Za-z0-9 .,:;_()+@=\/-]/g, '?').replace(/\s+/g, ' ').trim()
  return safe === '' ? '?' : safe.slice(0, 120)
}

/** Percent-encode a query value we write ourselves (RFC 3986 §2.1). */
export function q (value: string): string {
  return encodeURIComponent(value)
}

export function render (v: ScriptView): string {
  switch (v.kind) {
    case 'entry': return entry(v.baseUrl)
    case 'local': return lines(`# Boot from the local disk: ${label(v.reason)}`, ...localBoot(v.arch, v.baseUrl))
    case 'deploy': return deployLinux(v)
    case 'deploy-winpe': return deployWinpe(v)
    case 'login': return login(v)
    case 'menu': return menu(v)
    case 'refused': return lines(`echo netboot: ${label(v.message)}`, 'sleep 5', ...localBoot(v.arch, v.baseUrl))
    case 'retry': return retry(v.baseUrl, v.message)
  }
}

function lines (...body: string[]): string {
  return ['#!ipxe', ...body, ''].join('\n')
}

/** The script DHCP hands to iPXE: send the machine's identity and run whatever the appliance decides. */
function entry (baseUrl: string): string {
  const query = IDENTITY_VARS.map(([k, v]) => `${k}=\${${v}}`).join('&')
  return lines(
    '# Netboot Appliance: identify this machine and ask for its boot decision.',
    `chain --autofree ${baseUrl}/boot/decide?${query} || goto failed`,
    'exit',
    ':failed',
    ...retryTail(baseUrl, 'could not reach the appliance')
  )
}

/**
 * Leave the network boot for the local disk.
 * - BIOS: `sanboot --drive 0x80` boots the first hard disk's MBR; `--no-describe` keeps iPXE from installing
 *   an iBFT/aBFT that Windows would try to use. Some BIOSes then refuse INT 13 reads after a PXE ROM ran, so
 *   `exit` (back to the BIOS boot order, INT 18h) is the fallback.
 * - UEFI x64 and arm64: iPXE cannot sanboot a local disk, and its `exit` returns EFI_SUCCESS, after which EDK2's
 *   boot manager shows its menu rather than trying the next boot option (BdsEntry.c; OVMF does so). So iPXE
 *   chains localboot.efi, a standalone GRUB built with the PE (boot/pe/localboot.cfg), which chainloads the first
 *   OS loader on a local disk: Windows Boot Manager, a distribution's shim, or the removable-media path
 *   makeBootable installs GRUB at. `exit` stays the fallback (no PE built, or no loader found).
 * - Other UEFI (IA32, ARM32): `exit`.
 */
function localBoot (arch: Arch, baseUrl: string): string[] {
  if (arch === 'bios') {
    return ['sanboot --no-describe --drive 0x80 || exit', 'exit']
  }
  const pe = peArchFor(arch)
  if (pe === undefined) return ['exit']
  return [`chain --autofree ${baseUrl}${peUrlPath(pe)}/localboot.efi || exit`, 'exit']
}

/** The last console= is /dev/console, where the runner's output goes: the PE's serial console (pe/arch.ts). */
export function kernelArgs (v: { baseUrl: string, token: string, deploymentId: string, pe: PeArch }): string {
  return `netboot.url=${v.baseUrl} netboot.token=${v.token} netboot.deployment=${v.deploymentId} console=tty0 console=${peSerialConsole(v.pe)}`
}

/**
 * The Linux PE of the machine's architecture: `initrd=initrd.img` names the initrd for the EFI stub (UEFI x64 and
 * arm64, where iPXE starts the kernel as an EFI application) and is ignored on BIOS.
 */
function deployLinux (v: Extract<ScriptView, { kind: 'deploy' }>): string {
  const pe = `${v.baseUrl}${peUrlPath(v.pe)}`
  return lines(
    `# Deployment ${v.deploymentId}: ${label(v.title)}. The token is valid for this deployment only.`,
    `kernel ${pe}/vmlinuz initrd=initrd.img ${kernelArgs(v)} || goto failed`,
    `initrd ${pe}/initrd.img || goto failed`,
    'boot || goto failed',
    ':failed',
    ...retryTail(v.baseUrl, 'could not boot the PE')
  )
}

/**
 * WinPE through wimboot (https://ipxe.org/wimboot): wimboot builds a virtual disk from BCD, boot.sdi and
 * boot.wim; every other initrd file is injected into X:\Windows\System32, so the runner reads netboot.ini.
 */
function deployWinpe (v: Extract<ScriptView, { kind: 'deploy-winpe' }>): string {
  const config = `${v.baseUrl}/pe/v1/winpe/netboot.ini?token=${q(v.token)}`
  return lines(
    `# Deployment ${v.deploymentId} (WinPE): ${label(v.title)}. The token is valid for this deployment only.`,
    `kernel ${v.baseUrl}/winpe/wimboot || goto failed`,
    `initrd ${v.baseUrl}/winpe/BCD BCD || goto failed`,
    `initrd ${v.baseUrl}/winpe/boot.sdi boot.sdi || goto failed`,
    `initrd ${v.baseUrl}/winpe/boot.wim boot.wim || goto failed`,
    `initrd ${config} netboot.ini || goto failed`,
    'boot || goto failed',
    ':failed',
    ...retryTail(v.baseUrl, 'could not boot WinPE')
  )
}

/**
 * ConfigMgr's "PXE password": `login` asks for it; the appliance checks it and answers with the menu (or a
 * refusal). The password itself is never written into a script, only the `${password}` variable reference.
 */
function login (v: Extract<ScriptView, { kind: 'login' }>): string {
  return lines(
    '# The menu of available deployments is protected by a PXE password (any user name).',
    'login || goto local',
    `chain --autofree ${v.baseUrl}/boot/menu?mac=${q(v.mac)}&password=\${password:uristring} || goto failed`,
    'exit',
    ':local',
    ...localBoot(v.arch, v.baseUrl),
    ':failed',
    ...retryTail(v.baseUrl, 'could not reach the appliance')
  )
}

/**
 * Menu of available advertisements; the timeout and any failure fall through to the local disk. A timeout of 0
 * is iPXE's "no timeout": the menu waits for a choice (http.menuTimeoutSeconds: 0).
 */
function menu (v: Extract<ScriptView, { kind: 'menu' }>): string {
  const password = v.withPassword ? '&password=${password:uristring}' : ''
  return lines(
    '# Available deployments; the local disk after the timeout.',
    'menu Netboot Appliance: available deployments',
    'item __local Boot from the local disk',
    'item --gap --',
    ...v.items.map(i => i.unavailable === undefined ? `item ${i.id} ${label(i.label)}` : `item --gap ${label(`${i.label}: ${i.unavailable}`)}`),
    `choose --timeout ${v.timeoutMs} --default __local selected || goto local`,
    'iseq ${selected} __local && goto local ||',
    `chain --autofree ${v.baseUrl}/boot/select?adv=\${selected:uristring}&mac=${q(v.mac)}${password} || goto failed`,
    'exit',
    ':local',
    ...localBoot(v.arch, v.baseUrl),
    ':failed',
    ...retryTail(v.baseUrl, 'could not start the deployment')
  )
}

/** A failure iPXE can show: print it, wait, and start over from the entry script. */
function retry (baseUrl: string, message: string): string {
  return lines(...retryTail(baseUrl, message))
}

function retryTail (baseUrl: string, message: string): string[] {
  return [
    `echo netboot: ${label(message)}; retrying in ${RETRY_DELAY_SECONDS} seconds`,
    `sleep ${RETRY_DELAY_SECONDS} && chain --autofree ${baseUrl}/boot.ipxe`
  ]
}
