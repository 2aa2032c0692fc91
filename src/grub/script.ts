// GRUB configs for the Secure Boot chain (shim → GRUB → the PE's signed kernel), rendered from the same views as
// the iPXE scripts (src/ipxe/script.ts). Pure: no fastify, no config, no store.
//
// The GRUB is Debian's signed network image (grubnetx64.efi.signed, scripts/fetch-trixie-loaders.sh): every module
// is built in (Secure Boot forbids loading more), its prefix is /grub on the server it booted from, and it reads
// $prefix/grub.cfg (GRUB 2.12; 2.06's image reads $prefix/x86_64-efi/grub.cfg first). That file is `entryConfig`:
// it sends the machine's identity to /boot/grub/decide and runs the config the appliance answers with.
// Files come over HTTP, `(http,host:port)/path`: the image has the http module, and the kernel and initrd are
// megabytes that TFTP would move 1 KiB per round trip.
//
// Quoting: GRUB's shell treats `;`, `&`, `|`, `<`, `>`, `$`, quotes, `#`, `\`, braces and blanks as syntax, so every
// URL is double-quoted (it holds `&` and `?`; `$` expands inside double quotes, which the identity variables use)
// and every text we print is single-quoted after `label()`, which leaves no quote, `$`, `#` or backslash in it.
import type { Arch } from '../config/schema.js'
import { kernelArgs, label, q, RETRY_DELAY_SECONDS, type ScriptView } from '../ipxe/script.js'
import { peUrlPath } from '../pe/arch.js'
import { localBootLines } from './local-boot.js'

/** Where GRUB asks for its boot decision (routes/boot.ts). */
export const GRUB_BOOT_PREFIX = '/boot/grub'

/** `http://10.0.0.1:8080` → `(http,10.0.0.1:8080)`: GRUB's device for files on that server (port after the colon). */
export function grubDevice (baseUrl: string): string {
  const u = new URL(baseUrl)
  if (u.protocol !== 'http:') throw new Error(`GRUB fetches over plain HTTP only, not ${u.protocol} (${baseUrl})`)
  const port = u.port === '' ? '' : `:${u.port}`
  return `(http,${u.hostname}${port})`
}

function url (baseUrl: string, pathAndQuery: string): string {
  // The prefix path of baseUrl (if any) stays in front of ours.
  const u = new URL(baseUrl)
  const prefix = u.pathname.replace(/\/+$/, '')
  return `${grubDevice(baseUrl)}${prefix}${pathAndQuery}`
}

function lines (...body: string[]): string {
  return [...body, ''].join('\n')
}

function say (text: string): string {
  return `echo '${label(text)}'`
}

/**
 * The config GRUB loads first (TFTP or HTTP, `grub/grub.cfg`): identify the machine and run the appliance's
 * answer. `net_default_mac` is the booting NIC's MAC; the SMBIOS UUID is read in the same 8-4-4-4-12 form iPXE
 * sends. GRUB cannot percent-encode, so the serial number is only sent when it is plain (letters, digits, `.-_`).
 * If the appliance cannot be reached: say so, wait, and reboot (the firmware PXE-boots again).
 */
export function entryConfig (baseUrl: string): string {
  return lines(
    '# Netboot Appliance (GRUB, Secure Boot chain): identify this machine and ask for its boot decision.',
    'set nb_id="mac=${net_default_mac}&platform=${grub_platform}&buildarch=${grub_cpu}"',
    // A machine without the field (QEMU has no serial number) prints "error: failed to retrieve the structure
    // field." and goes on without it.
    'if smbios --type 1 --get-uuid 8 --set nb_uuid; then set nb_id="${nb_id}&uuid=${nb_uuid}"; fi',
    'if smbios --type 1 --get-string 7 --set nb_serial; then',
    '  if regexp \'^[A-Za-z0-9._-]+$\' "${nb_serial}"; then set nb_id="${nb_id}&serial=${nb_serial}"; fi',
    'fi',
    `configfile "${url(baseUrl, `${GRUB_BOOT_PREFIX}/decide?`)}\${nb_id}"`,
    ...retryTail('could not reach the appliance')
  )
}

export function renderGrub (v: ScriptView): string {
  switch (v.kind) {
    case 'entry': return entryConfig(v.baseUrl)
    case 'local': return lines(`# Boot from the local disk: ${label(v.reason)}`, say(`netboot: booting from the local disk (${v.reason})`), ...localBoot(v.arch))
    case 'deploy': return deployLinux(v)
    case 'deploy-winpe': return refusal(v.arch, 'WinPE starts through wimboot, which Secure Boot does not allow')
    case 'login': return refusal(v.arch, 'the deployment menu is protected by a PXE password, which GRUB cannot ask for')
    case 'menu': return menu(v)
    case 'refused': return refusal(v.arch, v.message)
    case 'retry': return lines(...retryTail(v.message))
  }
}

/**
 * Leave the network boot: chainload the local disk's OS loader (local-boot.ts says why not just `exit`). Under
 * Secure Boot the firmware checks what is chainloaded: Windows Boot Manager and the distributions' shims are signed
 * by Microsoft; an unsigned loader is refused, and `exit` follows.
 */
function localBoot (_arch: Arch): string[] {
  return localBootLines()
}

function refusal (arch: Arch, message: string): string {
  return lines(say(`netboot: ${message}`), 'sleep 5', ...localBoot(arch))
}

/** After a failure: print it, wait, and reboot into a new network boot (GRUB has no loop to start over with). */
function retryTail (message: string): string[] {
  return [say(`netboot: ${message}; rebooting in ${RETRY_DELAY_SECONDS} seconds`), `sleep ${RETRY_DELAY_SECONDS}`, 'reboot']
}

/**
 * The Linux PE: GRUB's `linux` checks the kernel's signature through shim (Debian's kernel, signed by Debian's CA,
 * which shim carries); the initrd is not signed, as with any Secure Boot Linux.
 */
function deployLinux (v: Extract<ScriptView, { kind: 'deploy' }>): string {
  const pe = url(v.baseUrl, peUrlPath(v.pe))
  return lines(
    `# Deployment ${v.deploymentId}: ${label(v.title)}. The token is valid for this deployment only.`,
    say(`netboot: deployment ${v.deploymentId}: ${v.title}`),
    `if linux "${pe}/vmlinuz" ${kernelArgs(v)}; then`,
    `  if initrd "${pe}/initrd.img"; then boot; fi`,
    'fi',
    ...retryTail('could not boot the PE')
  )
}

/**
 * Menu of available advertisements; the local disk is the default after the timeout. http.menuTimeoutSeconds 0
 * means "wait for a choice", as in iPXE: GRUB waits when `timeout` is unset (-1). An item this machine cannot start
 * is an entry that only says why.
 */
function menu (v: Extract<ScriptView, { kind: 'menu' }>): string {
  const seconds = Math.round(v.timeoutMs / 1000)
  const items = v.items.flatMap(i => i.unavailable === undefined
    ? [`menuentry '${label(i.label)}' {`, `  configfile "${url(v.baseUrl, `${GRUB_BOOT_PREFIX}/select?adv=${q(i.id)}&mac=${q(v.mac)}`)}"`, `  ${retryTail('could not start the deployment').join('\n  ')}`, '}']
    : [`menuentry '${label(`${i.label}: ${i.unavailable}`)}' {`, `  ${say(`netboot: ${i.unavailable}`)}`, '  sleep 5', '}'])
  return lines(
    '# Available deployments; the local disk after the timeout.',
    'set default=0',
    v.timeoutMs === 0 ? 'set timeout=-1' : `set timeout=${Math.max(1, seconds)}`,
    "menuentry 'Boot from the local disk' {",
    `  ${localBoot(v.arch).join('\n  ')}`,
    '}',
    ...items
  )
}
