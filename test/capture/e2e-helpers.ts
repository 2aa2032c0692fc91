// Shared by the capture end-to-end tests: the PE built with capture.sh inside, a reference disk whose NTFS
// partition holds a generated tree, the lab appliance config, and waiting for a deployment to end.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { stringify } from 'yaml'
import { sh, makeTree, type Appliance } from '../../src/lab/index.js'
import { buildPe } from '../../src/pe/build.js'

/** A PE of our own (hash-cached by build.sh): the shared boot/pe/build may be rebuilt by other tests. */
export const PE_DIR = process.env.NBI_PE_DIR ?? join(tmpdir(), 'nbi-pe')

export async function ensurePe (onLine?: (l: string) => void): Promise<string> {
  await buildPe({ outDir: PE_DIR, onLine })
  return PE_DIR
}

export const CAPTURE_TOKEN = 'lab-capture-token-42'

/**
 * A raw disk with an MBR and one NTFS partition (1 MiB in, 192 MiB) holding a generated tree: the reference
 * computer. Returns the tree's relative path → sha256.
 */
export async function referenceDisk (disk: string, work: string): Promise<Map<string, string>> {
  const tree = join(work, 'ref-tree')
  await mkdir(tree, { recursive: true })
  const sums = await makeTree(tree)
  const part = join(work, 'ref-part.ntfs')
  const partBytes = 192 * 1024 * 1024
  await sh(['truncate', '-s', String(partBytes), part])
  await sh(['mkntfs', '-F', '-Q', '-q', '-p', '2048', '-L', 'Windows', part])
  await sh(['wimcapture', tree, join(work, 'ref-tree.wim'), 'tree', '--compress=none'])
  await sh(['wimapply', join(work, 'ref-tree.wim'), '1', part])
  await sh(['truncate', '-s', String(256 * 1024 * 1024), disk])
  await writeFile(join(work, 'ref.sfdisk'), `label: dos\nstart=2048, size=${partBytes / 512}, type=7, bootable\n`)
  await sh(['sh', '-c', `sfdisk -q '${disk}' < '${join(work, 'ref.sfdisk')}'`])
  await sh(['dd', `if=${part}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none'])
  return sums
}

export interface CaptureLabOptions {
  address: string
  work: string
  peDir: string
  refMac: string
  blankMac: string
}

/** Reference machine → capture task sequence; blank machine → partition + apply the captured image. */
export function captureLabConfig (o: CaptureLabOptions): string {
  return stringify({
    server: { address: o.address, bind: '0.0.0.0' },
    dhcp: { mode: 'proxy', answer: 'all' },
    tftp: { root: '/usr/lib/ipxe' },
    http: { menuTimeoutSeconds: 0, captureToken: CAPTURE_TOKEN },
    paths: { images: join(o.work, 'images'), state: join(o.work, 'state'), pe: o.peDir, files: join(o.work, 'files') },
    images: [{ id: 'ref-capture', file: 'ref-capture.wim', description: 'captured from the reference VM' }],
    taskSequences: [
      { id: 'capture-ref', name: 'Capture the reference computer', steps: [{ type: 'capture', image: 'ref-capture', volume: 'auto', imageName: 'Reference VM', compression: 'lzx' }] },
      { id: 'deploy-ref', name: 'Deploy the captured image', steps: [{ type: 'partition' }, { type: 'applyImage', image: 'ref-capture', index: 1 }] }
    ],
    collections: [
      { id: 'references', members: [{ mac: o.refMac }] },
      { id: 'blanks', members: [{ mac: o.blankMac }] }
    ],
    advertisements: [
      { id: 'capture', taskSequence: 'capture-ref', collection: 'references', purpose: 'required' },
      { id: 'deploy', taskSequence: 'deploy-ref', collection: 'blanks', purpose: 'required' }
    ]
  })
}

export interface EndedDeployment { id: string, mac: string, state: string, error?: string, logTail?: string }

export async function waitForEnded (app: Appliance, mac: string, timeoutMs: number, what: string): Promise<EndedDeployment> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all = await app.get<EndedDeployment[]>('/api/v1/deployments').catch(() => [])
    const d = all.find(x => x.mac === mac && (x.state === 'succeeded' || x.state === 'failed'))
    if (d !== undefined) return d
    if (Date.now() > deadline) throw new Error(`${what}: no ended deployment for ${mac} within ${timeoutMs} ms (appliance log ${app.log})`)
    await new Promise(r => setTimeout(r, 1000))
  }
}
