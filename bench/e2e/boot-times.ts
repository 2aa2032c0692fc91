// Power-on → PE check-in and power-on → deployed, for a BIOS, a UEFI (PXE), a UEFI HTTP Boot, an arm64 UEFI VM and a UEFI VM
// with Secure Boot on (shim → GRUB → the PE), in the netns
// + QEMU (TCG) lab of the e2e tests: the VM's start time against the deployment's 'checked-in' and 'succeeded' events.
// linux-bios and linux-uefi deploy the small Linux system of src/lab/linux-image.ts with makeBootable and also time
// power-on → the deployed system up from its own disk (after the reboot, PXE and "boot locally"; its init's line);
// linux-uefi-secureboot the same with Secure Boot on (the network chain, then the image's own signed shim and GRUB).
// debian-bios and debian-uefi do the same with a debootstrapped Debian (src/lab/debian-image.ts; not in the default
// run: the first one debootstraps, ~1 min, and each deploys ~400 MB under TCG): up = systemd finished booting.
//   npx tsx bench/e2e/boot-times.ts [--runs 1] [--only bios|uefi|uefi-http|uefi-arm64|uefi-secureboot|linux-bios|linux-uefi|linux-uefi-secureboot|debian-bios|debian-uefi]
// Needs root. TCG emulation: the figures are for this machine under its current load (printed), not for
// real hardware, where PXE + iPXE + the PE take a few seconds.
import { loadavg } from 'node:os'
import { startLabRun, waitForDeploymentEnd, type DeploymentEvent } from '../../src/lab/deploy.js'
import { waitForLine, type Firmware } from '../../src/lab/index.js'
import { TEST_OS_MARK } from '../../src/lab/linux-image.js'
import { DEBIAN_MARK } from '../../src/lab/debian-image.js'

const arg = (name: string, def: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? (process.argv[i + 1] ?? def) : def }
const RUNS = Number(arg('runs', '1'))
const ONLY = arg('only', '')

interface Sample { firmware: string, checkIn: number, deployed: number, booted?: number, state: string }

const CASES: Array<{ name: string, firmware: Firmware, image?: 'linux' | 'debian', onlyAsked?: boolean }> = [
  { name: 'bios', firmware: 'bios' }, { name: 'uefi', firmware: 'uefi' }, { name: 'uefi-http', firmware: 'uefi-http' },
  { name: 'uefi-arm64', firmware: 'uefi-arm64' }, { name: 'uefi-secureboot', firmware: 'uefi-secureboot' },
  { name: 'linux-bios', firmware: 'bios', image: 'linux' }, { name: 'linux-uefi', firmware: 'uefi', image: 'linux' },
  { name: 'linux-uefi-secureboot', firmware: 'uefi-secureboot', image: 'linux' },
  { name: 'debian-bios', firmware: 'bios', image: 'debian', onlyAsked: true }, { name: 'debian-uefi', firmware: 'uefi', image: 'debian', onlyAsked: true }
]

async function once (c: typeof CASES[number]): Promise<Sample> {
  const run = await startLabRun({
    firmware: c.firmware,
    ...(c.image !== undefined ? { image: c.image, extraSteps: [{ type: 'makeBootable' }] } : {}),
    onLine: (l) => { process.stderr.write(`${l}\n`) }
  })
  try {
    const d = await waitForDeploymentEnd(run, 15 * 60_000)
    const events = await run.appliance.get<DeploymentEvent[]>(`/api/v1/deployments/${d.id}/events`)
    const start = run.vm?.startedAt ?? 0
    const at = (type: string): number => Date.parse(events.find(e => e.type === type)?.at ?? '') - start
    const sample: Sample = { firmware: c.name, checkIn: at('checked-in') / 1000, deployed: at(d.state === 'succeeded' ? 'succeeded' : 'failed') / 1000, state: d.state }
    if (c.image !== undefined && d.state === 'succeeded') {
      const up = c.image === 'linux' ? `${TEST_OS_MARK} booted from disk` : `${DEBIAN_MARK} system=`
      await waitForLine(run.serialLog, new RegExp(up), 10 * 60_000, { vm: run.vm })
      sample.booted = (Date.now() - start) / 1000   // the serial log is polled every 0.5 s
    }
    return sample
  } finally {
    await run.close()
  }
}

const samples: Sample[] = []
for (const c of CASES) {
  if (ONLY !== '' ? ONLY !== c.name : c.onlyAsked === true) continue
  for (let i = 0; i < RUNS; i++) {
    const s = await once(c)
    samples.push(s)
    process.stdout.write(`${c.name} run ${i + 1}: power-on → PE check-in ${s.checkIn.toFixed(1)} s, power-on → ${s.state} ${s.deployed.toFixed(1)} s` +
      `${s.booted !== undefined ? `, power-on → deployed system up from its disk ${s.booted.toFixed(1)} s` : ''}\n`)
  }
}
const load = loadavg().map(l => l.toFixed(1)).join(' ')
process.stdout.write(`\nfirmware                power-on→check-in  power-on→deployed  power-on→up from disk  (QEMU TCG, 1 vCPU, 1 GiB; load average now ${load})\n`)
for (const c of CASES) {
  const xs = samples.filter(s => s.firmware === c.name)
  if (xs.length === 0) continue
  const mean = (f: (s: Sample) => number): string => (xs.reduce((a, s) => a + f(s), 0) / xs.length).toFixed(1)
  const booted = xs.every(s => s.booted !== undefined) ? `${mean(s => s.booted ?? 0).padStart(19)} s` : ''
  process.stdout.write(`${c.name.padEnd(22)}  ${mean(s => s.checkIn).padStart(15)} s  ${mean(s => s.deployed).padStart(15)} s  ${booted}\n`)
}
process.exit(samples.every(s => s.state === 'succeeded') ? 0 : 1)
