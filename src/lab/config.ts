// The appliance config of a lab: proxyDHCP on the lab bridge, the built PE, one WIM, a task sequence that
// partitions and applies it, and a required advertisement for the given machines.
import { stringify } from 'yaml'

export interface LabConfigOptions {
  /** the appliance's address on the lab bridge */
  address: string
  workDir: string
  peDir: string
  imagesDir: string
  /** WIM file name inside imagesDir */
  wimFile: string
  /** machines in the deployment collection (MACs) */
  macs: string[]
  /** WIM image index to apply (default 1) */
  imageIndex?: number
  /** extra steps after applyImage */
  extraSteps?: object[]
  /** the partition step's file system (default ntfs) */
  filesystem?: 'ntfs' | 'ext4'
  adminToken?: string
  /** bootLoaders.secureBoot: x86-64 UEFI machines get shim → GRUB instead of iPXE */
  secureBoot?: boolean
}

export function labConfig (o: LabConfigOptions): string {
  return stringify({
    server: { address: o.address, bind: '0.0.0.0' },
    dhcp: { mode: 'proxy', answer: 'all' },
    tftp: { root: '/usr/lib/ipxe' },
    ...(o.secureBoot === true ? { bootLoaders: { secureBoot: true } } : {}),
    http: { menuTimeoutSeconds: 0, ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}) },
    paths: { images: o.imagesDir, state: `${o.workDir}/state`, pe: o.peDir, files: `${o.workDir}/files` },
    images: [{ id: 'lab-image', file: o.wimFile, description: 'made by wimcapture from a generated tree' }],
    taskSequences: [{
      id: 'lab-deploy',
      name: 'Lab deployment',
      variables: { ROLE: 'lab' },
      steps: [
        { type: 'partition', name: 'Partition the first disk', ...(o.filesystem !== undefined ? { filesystem: o.filesystem } : {}) },
        { type: 'applyImage', name: 'Apply the lab image', image: 'lab-image', index: o.imageIndex ?? 1 },
        ...(o.extraSteps ?? [])
      ]
    }],
    collections: [{ id: 'lab-machines', name: 'Lab machines', members: o.macs.map(mac => ({ mac })) }],
    advertisements: [{ id: 'lab-required', taskSequence: 'lab-deploy', collection: 'lab-machines', purpose: 'required' }]
  })
}
