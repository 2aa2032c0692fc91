// One real deployment in the lab, shared by the e2e tests and bench/e2e: netns + bridge + tap, dnsmasq as
// the site DHCP server, the appliance (proxyDHCP, TFTP, HTTP) and a QEMU TCG VM with a blank 2 GiB disk
// that PXE-boots, runs the PE and deploys a WIM made by wimcapture. Everything is torn down by close().
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import {
  createLab, hashTree, isSecureBoot, labConfig, makeTree, makeWim, startAppliance, startDnsmasq, startVm, waitFor,
  type Appliance, type Firmware, type Lab, type Vm
} from './index.js'
import { buildPe } from '../pe/build.js'
import { makeLinuxTree, type ReferenceMachine } from './linux-image.js'
import { makeDebianTree } from './debian-image.js'
import { peDirFor } from '../pe/arch.js'
import { REPO_ROOT } from './services.js'

export const PE_DIR = process.env.NETBOOT_PE_DIR ?? join(REPO_ROOT, 'boot/pe/build')

export interface ShownDeployment { id: string, mac: string, state: string, error?: string, logTail?: string, currentStep?: number }
export interface DeploymentEvent { seq: number, at: string, type: string, step?: number, message?: string }

export interface LabRun {
  lab: Lab
  work: string
  appliance: Appliance
  vm?: Vm
  mac: string
  disk: string
  serialLog: string
  /** source tree: relative path → sha256 */
  sums: Map<string, string>
  /** images 'linux' and 'debian': the reference machine's identity, which the deployment must change */
  reference?: ReferenceMachine
  close (): Promise<void>
}

export function randomMac (): string {
  return '52:54:00:' + [...randomBytes(3)].map(b => b.toString(16).padStart(2, '0')).join(':')
}

export interface LabRunOptions {
  firmware: Firmware
  /** the VM's MAC is in the deployment collection (default true) */
  inCollection?: boolean
  imageIndex?: number
  extraSteps?: object[]
  /** the WIM holds this many images (copies of the tree; default 1) */
  wimImages?: number
  /**
   * 'files' (default): the generated tree of makeTree, for NTFS; 'linux': the bootable test system of
   * linux-image.ts for the VM's architecture, captured with --unix-data, on ext4 (add a makeBootable step to make
   * it boot); 'debian': the
   * debootstrapped Debian of debian-image.ts, likewise (x86-64 only; slow: a real distribution under TCG)
   */
  image?: 'files' | 'linux' | 'debian'
  /** bootLoaders.secureBoot (default: on for the Secure Boot firmwares, off otherwise) */
  secureBoot?: boolean
  /** runs after the appliance started, before the VM powers on */
  beforeVm?: (run: Omit<LabRun, 'vm'>) => Promise<void>
  onLine?: (line: string) => void
}

/** Set up the lab and power the VM on. */
export async function startLabRun (o: LabRunOptions): Promise<LabRun> {
  await buildPe({ outDir: PE_DIR, onLine: o.onLine })   // cached: rebuilt only when boot/pe/* changed
  if (o.firmware === 'uefi-arm64') await buildPe({ outDir: peDirFor(PE_DIR, 'arm64'), arch: 'arm64', onLine: o.onLine })
  const work = await mkdtemp(join(tmpdir(), 'nbe-e2e-'))
  const cleanups: Array<() => Promise<void>> = [async () => { await rm(work, { recursive: true, force: true }) }]
  const close = async (): Promise<void> => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) }
  try {
    const images = join(work, 'images')
    await mkdir(images)
    const linux = o.image === 'linux' || o.image === 'debian'
    if (o.image === 'debian' && o.firmware === 'uefi-arm64') throw new Error('the Debian reference system (src/lab/debian-image.ts) is built for x86-64 only')
    const tree = join(work, 'tree')
    const arch = o.firmware === 'uefi-arm64' ? 'arm64' : 'amd64'
    const reference = o.image === 'debian'
      ? await makeDebianTree(tree, o.firmware === 'bios' ? 'bios' : 'uefi', o.onLine)
      : o.image === 'linux' ? (await makeLinuxTree(tree, peDirFor(PE_DIR, arch), arch, { signedBoot: isSecureBoot(o.firmware) })).reference : undefined
    const sums = o.image === 'debian' ? new Map<string, string>() : await (linux ? hashTree(tree) : makeTree(tree))
    await makeWim(join(images, 'lab.wim'), Array.from({ length: o.wimImages ?? 1 }, (_, i) => ({ dir: tree, name: `Lab image ${i + 1}` })), 'lzx', linux)
    const lab = await createLab({ prefix: 'nbe-' })
    cleanups.push(async () => { await lab.close() })
    await startDnsmasq(lab, work)
    const mac = randomMac()
    const appliance = await startAppliance(lab, labConfig({
      address: lab.address, workDir: work, peDir: PE_DIR, imagesDir: images, wimFile: 'lab.wim',
      macs: o.inCollection === false ? ['52:54:00:ff:ff:fe'] : [mac], imageIndex: o.imageIndex, extraSteps: o.extraSteps,
      filesystem: linux ? 'ext4' : undefined,
      secureBoot: o.secureBoot ?? isSecureBoot(o.firmware)
    }), work)
    const tap = await lab.addTap()
    const disk = join(work, 'disk.raw')
    const serialLog = join(work, 'serial.log')
    await o.beforeVm?.({ lab, work, appliance, mac, disk, serialLog, sums, reference, close })
    const vm = await startVm(lab, { firmware: o.firmware, mac, disk, diskBytes: 2 * 1024 ** 3, serialLog, workDir: work, net: { tap } })
    cleanups.push(async () => { await vm.kill() })
    return { lab, work, appliance, vm, mac, disk, serialLog, sums, reference, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** The VM's deployment once it has ended (succeeded or failed). */
export async function waitForDeploymentEnd (run: LabRun, timeoutMs: number): Promise<ShownDeployment> {
  let found: ShownDeployment | undefined
  await waitFor(async () => {
    const all = await run.appliance.get<ShownDeployment[]>('/api/v1/deployments').catch(() => [])
    found = all.find(d => d.mac === run.mac && (d.state === 'succeeded' || d.state === 'failed'))
    return found !== undefined
  }, timeoutMs, `no ended deployment for ${run.mac} within ${timeoutMs} ms`).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${await bootDiagnosis(run)}`)
  })
  return found as ShownDeployment
}

/** How many /boot/decide (iPXE) or /boot/grub/decide (GRUB) requests the appliance logged for this MAC (its HTTP request log, debug level). */
export async function decideCount (run: LabRun, loader: 'ipxe' | 'grub' = 'ipxe'): Promise<number> {
  const log = await readFile(run.appliance.log, 'utf8').catch(() => '')
  const mac = encodeURIComponent(run.mac)
  const url = loader === 'grub' ? '"url":"/boot/grub/decide?' : '"url":"/boot/decide?'
  return log.split('\n').filter(l => l.includes(url) && (l.includes(run.mac) || l.includes(mac))).length
}

/**
 * Why no deployment started, when the appliance log says: a /boot/decide without a usable MAC means the
 * iPXE entry script sent the MAC in a form the server cannot read (e.g. `${netX/mac:uristring}`, which
 * iPXE expands to the 6 raw bytes, not the text).
 */
export async function bootDiagnosis (run: LabRun): Promise<string> {
  const log = await readFile(run.appliance.log, 'utf8').catch(() => '')
  const serial = await readFile(run.serialLog, 'latin1').catch(() => '')
  const bad = /mac is missing or not a MAC address[^\n]*/.exec(serial)?.[0] ?? (log.includes('boot request without a usable MAC') ? 'boot request without a usable MAC' : undefined)
  if (bad !== undefined) return `the VM's /boot/decide carried no usable MAC ("${bad}"): check the iPXE entry script (src/ipxe/script.ts)`
  return `serial log ${run.serialLog}, appliance log ${run.appliance.log}`
}
