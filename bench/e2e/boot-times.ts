// Power-on → PE check-in and power-on → deployed, for a BIOS, a UEFI (PXE), a UEFI HTTP Boot, an arm64 UEFI VM and a UEFI VM
// with Secure Boot on (shim → GRUB → the PE), in the netns
// + QEMU (TCG) lab of the e2e tests: the VM's start time against the deployment's 'checked-in' and 'succeeded' events.
//   npx tsx bench/e2e/boot-times.ts [--runs 1] [--only bios|uefi|uefi-http|uefi-arm64|uefi-secureboot]
// Needs root. TCG emulation: the figures are for this machine under its current load (printed), not for
// real hardware, where PXE + iPXE + the PE take a few seconds.
import { loadavg } from 'node:os'
import { startLabRun, waitForDeploymentEnd, type DeploymentEvent } from '../../src/lab/deploy.js'
import type { Firmware } from '../../src/lab/index.js'

const arg = (name: string, def: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? (process.argv[i + 1] ?? def) : def }
const RUNS = Number(arg('runs', '1'))
const ONLY = arg('only', '')

interface Sample { firmware: string, checkIn: number, deployed: number, state: string }

async function once (firmware: Firmware): Promise<Sample> {
  const run = await startLabRun({ firmware, onLine: (l) => { process.stderr.write(`${l}\n`) } })
  try {
    const d = await waitForDeploymentEnd(run, 15 * 60_000)
    const events = await run.appliance.get<DeploymentEvent[]>(`/api/v1/deployments/${d.id}/events`)
    const at = (type: string): number => Date.parse(events.find(e => e.type === type)?.at ?? '') - (run.vm?.startedAt ?? 0)
    return { firmware, checkIn: at('checked-in') / 1000, deployed: at(d.state === 'succeeded' ? 'succeeded' : 'failed') / 1000, state: d.state }
  } finally {
    await run.close()
  }
}

const samples: Sample[] = []
const FIRMWARES = ['bios', 'uefi', 'uefi-http', 'uefi-arm64', 'uefi-secureboot'] as const
for (const fw of FIRMWARES) {
  if (ONLY !== '' && ONLY !== fw) continue
  for (let i = 0; i < RUNS; i++) {
    const s = await once(fw)
    samples.push(s)
    process.stdout.write(`${fw} run ${i + 1}: power-on → PE check-in ${s.checkIn.toFixed(1)} s, power-on → ${s.state} ${s.deployed.toFixed(1)} s\n`)
  }
}
const load = loadavg().map(l => l.toFixed(1)).join(' ')
process.stdout.write(`\nfirmware         power-on→check-in  power-on→deployed  (QEMU TCG, 1 vCPU, 1 GiB; load average now ${load})\n`)
for (const fw of FIRMWARES) {
  const xs = samples.filter(s => s.firmware === fw)
  if (xs.length === 0) continue
  const mean = (f: (s: Sample) => number): string => (xs.reduce((a, s) => a + f(s), 0) / xs.length).toFixed(1)
  process.stdout.write(`${fw.padEnd(15)}  ${mean(s => s.checkIn).padStart(15)} s  ${mean(s => s.deployed).padStart(15)} s\n`)
}
process.exit(samples.every(s => s.state === 'succeeded') ? 0 : 1)
