// What every protocol knows about a client, and the gate the DHCP side asks before it answers.
import type { Arch } from '../config/schema.js'

export interface ClientIdentity {
  mac: string                 // aa:bb:cc:dd:ee:ff
  arch: Arch
  uuid?: string               // SMBIOS UUID (DHCP option 97 / iPXE ${uuid}), lowercase 8-4-4-4-12
  serial?: string
  manufacturer?: string
  product?: string
}

/** Asked by the DHCP side before answering a PXE client: true to answer, or the reason to stay silent. */
export interface DhcpGate {
  shouldAnswer (client: ClientIdentity): Promise<true | string>
}
