// `netboot lab`: a self-contained demo as root: network namespaces + bridge + tap, dnsmasq as the site DHCP
// server, the appliance in proxyDHCP mode and a QEMU VM (TCG) with a blank 2 GiB disk that PXE-boots and
// deploys a demo WIM while the terminal shows its progress. Everything is removed on exit, Ctrl-C included.
// The building blocks are the lab helpers the end-to-end tests use (src/lab/).
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import type { CliCommand, CliIO } from './command.js'
import { startLabRun, waitForDeploymentEnd, type LabRun, type ShownDeployment } from '../lab/deploy.js'
import { serialSize, waitForLine } from '../lab/qemu.js'
import { TEST_OS_MARK } from '../lab/linux-image.js'

const usage = `usage: netboot lab [--uefi | --http-boot | --arm64 | --secure-boot] [--linux] [--timeout MINUTES]

Runs a complete deployment in an isolated lab on this machine (needs root, QEMU, dnsmasq-base, wimtools;
scripts/install-deps.sh installs them): a network namespace "nbe-…" with a bridge, a stand-in site DHCP
server (dnsmasq, addresses only), the appliance in proxyDHCP mode, and a QEMU VM (TCG, no KVM needed) with a
blank 2 GiB disk. The VM PXE-boots, boots the Linux PE (built first if needed: netboot pe build), and
applies a demo WIM (made with wimcapture) to NTFS. Progress is printed as it happens; the lab is deleted
at the end or on Ctrl-C. Nothing touches this machine's real network interfaces.

  --uefi             boot the VM with OVMF (UEFI, GPT + EFI system partition) instead of SeaBIOS
  --http-boot        OVMF with its PXE turned off: the VM UEFI-HTTP-boots the loader URL the appliance offers
  --arm64            an arm64 VM (qemu-system-aarch64 -M virt, AAVMF): iPXE's arm64 build and the arm64 PE
                     (built first if needed: netboot pe build --arch arm64); slower under TCG
  --secure-boot      OVMF with Secure Boot on and Microsoft's keys (as PCs ship); the appliance offers the Secure
                     Boot chain (bootLoaders.secureBoot): shim → GRUB → the PE's signed kernel
  --linux            deploy a small Linux system instead (ext4, setComputerName, makeBootable), then watch the VM
                     boot it from its own disk when the appliance tells it to boot locally (with --secure-boot
                     the system carries Debian's signed shim and GRUB, which makeBootable installs)
  --timeout MINUTES  give up after this long (default 20)`

async function peLines (run: LabRun, from: number, io: CliIO): Promise<number> {
  const text = await readFile(run.serialLog, 'latin1').catch(() => '')
  const fresh = text.slice(from)
  const end = fresh.lastIndexOf('\n')
  if (end < 0) return from
  for (const line of fresh.slice(0, end).split(/\r?\n/)) {
    if (/^netboot(-pe)?: |^Applying image/.test(line)) io.out(`  vm │ ${line}`)
  }
  return from + end + 1
}

function describe (d: ShownDeployment & { progress?: number }): string {
  return `deployment ${d.id}: ${d.state}${d.currentStep !== undefined ? `, step ${d.currentStep}` : ''}${d.progress !== undefined ? ` (${d.progress} %)` : ''}`
}

/** --linux: the VM reboots, is told to boot locally and boots the deployed system, whose init prints what it booted with. */
async function watchLocalBoot (run: LabRun, io: CliIO): Promise<number> {
  const from = await serialSize(run.serialLog)
  io.out('lab: the VM reboots: PXE → "boot from the local disk" → the disk\'s GRUB → the deployed kernel')
  try {
    await waitForLine(run.serialLog, new RegExp(`${TEST_OS_MARK} done`), 5 * 60_000, { from, vm: run.vm })
  } catch (err) {
    io.err(`lab: the deployed system did not come up: ${(err as Error).message}`)
    return 1
  }
  const text = (await readFile(run.serialLog, 'latin1')).slice(from)
  for (const line of text.split(/\r?\n/)) {
    // GRUB's lines come after the firmware console's colour escapes
    const at = Math.max(line.indexOf(TEST_OS_MARK), line.indexOf('netboot: local boot'))
    if (at >= 0) io.out(`  vm │ ${line.slice(at)}`)
  }
  io.out('lab: the deployed Linux booted from its own disk')
  return 0
}

export const command: CliCommand = {
  name: 'lab',
  summary: 'demo: deploy a QEMU VM through an isolated netns lab (root)',
  usage,
  async run (argv, io) {
    let values: { uefi?: boolean, 'http-boot'?: boolean, arm64?: boolean, 'secure-boot'?: boolean, linux?: boolean, timeout?: string }
    try {
      values = parseArgs({ args: argv, strict: true, options: { uefi: { type: 'boolean' }, 'http-boot': { type: 'boolean' }, arm64: { type: 'boolean' }, 'secure-boot': { type: 'boolean' }, linux: { type: 'boolean' }, timeout: { type: 'string' } } }).values
    } catch (err) { io.err(`netboot lab: ${(err as Error).message}`); return 2 }
    const ways = (['uefi', 'http-boot', 'arm64', 'secure-boot'] as const).filter(k => values[k] === true)
    if (ways.length > 1) { io.err(`netboot lab: ${ways.map(w => `--${w}`).join(' and ')} are different ways to boot; give one`); return 2 }
    const linux = values.linux === true
    if (process.getuid?.() !== 0) { io.err('netboot lab: needs root (network namespaces, taps)'); return 1 }
    const minutes = Number(values.timeout ?? 20)
    const firmware = values.arm64 === true ? 'uefi-arm64' : values['http-boot'] === true ? 'uefi-http' : values.uefi === true ? 'uefi' : values['secure-boot'] === true ? 'uefi-secureboot' : 'bios'
    io.out(`lab: preparing (${firmware}): PE, demo WIM, namespace, dnsmasq, appliance, VM`)
    const run = await startLabRun({
      firmware,
      ...(linux ? { image: 'linux' as const, extraSteps: [{ type: 'setComputerName', computerName: 'LAB-${ROLE}' }, { type: 'makeBootable' }] } : {}),
      onLine: (l) => { io.out(`  ${l}`) }
    })
    let closed = false
    const cleanup = async (): Promise<void> => {
      if (closed) return
      closed = true
      io.out('lab: cleaning up (VM, appliance, dnsmasq, namespaces, temp files)')
      await run.close()
    }
    const onSignal = (): void => { void cleanup().then(() => process.exit(130)) }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      io.out(`lab: namespace ${run.lab.ns}, appliance ${run.appliance.baseUrl}, VM ${run.mac} (serial log ${run.serialLog})`)
      io.out(`lab: VM powered on; waiting for PXE → ${firmware === 'uefi-secureboot' ? 'shim → GRUB' : 'iPXE'} → PE → task sequence`)
      let seen = 0
      let last = ''
      const timer = setInterval(() => {
        void (async () => {
          seen = await peLines(run, seen, io)
          const all = await run.appliance.get<ShownDeployment[]>('/api/v1/deployments').catch(() => [])
          const d = all.find(x => x.mac === run.mac)
          const line = d === undefined ? '' : describe(d)
          if (line !== '' && line !== last) { io.out(`lab: ${line}`); last = line }
        })()
      }, 2000)
      const d = await waitForDeploymentEnd(run, minutes * 60_000).finally(() => { clearInterval(timer) })
      await peLines(run, seen, io)
      if (d.state === 'succeeded') {
        const next = await run.appliance.fetchText(`/boot${firmware === 'uefi-secureboot' ? '/grub' : ''}/decide?mac=${encodeURIComponent(run.mac)}&platform=${firmware === 'bios' ? 'pcbios' : 'efi'}&buildarch=${firmware === 'uefi-arm64' ? 'arm64' : 'x86_64'}`).catch(() => ({ body: '' }))
        io.out(`lab: deployment ${d.id} succeeded; the appliance now answers ${run.mac}: ${next.body.split('\n').find(l => l.startsWith('# ')) ?? '?'}`)
        if (linux) return await watchLocalBoot(run, io)
        return 0
      }
      io.err(`lab: deployment ${d.id} failed: ${d.error ?? '?'}`)
      return 1
    } finally {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
      await cleanup()
    }
  }
}
