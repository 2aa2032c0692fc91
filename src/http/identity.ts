// What iPXE tells us about a machine (query of /boot/decide, see src/ipxe/script.ts) → a sighting and a client
// identity for the policy. Pure.
import type { Arch } from '../config/schema.js'
import { normalizeMac, normalizeUuid } from '../config/ids.js'
import { BadRequestError } from '../errors.js'
import type { ClientIdentity } from '../policy/types.js'
import type { Machine, MachineSighting } from '../store/types.js'

/** A query value as the querystring parser gives it: a repeated key arrives as an array. */
export type QueryValue = string | string[] | undefined

export interface IdentityQuery {
  mac?: QueryValue
  uuid?: QueryValue
  serial?: QueryValue
  manufacturer?: QueryValue
  product?: QueryValue
  platform?: QueryValue
  buildarch?: QueryValue
}

/** The first value of a query key (`?mac=a&mac=b` → 'a'). */
export function first (v: unknown): string | undefined {
  if (Array.isArray(v)) return first(v[0])
  return typeof v === 'string' ? v : undefined
}

/**
 * iPXE's ${platform} (pcbios, efi) and ${buildarch} (i386, x86_64, arm32, arm64) → the config's Arch
 * (IANA processor architecture names, RFC 4578 §2.1). A BIOS build is always 'bios', whatever the CPU.
 */
export function archFrom (platformValue: QueryValue, buildarchValue: QueryValue): Arch | undefined {
  const platform = first(platformValue)
  const buildarch = first(buildarchValue)
  if (platform === 'pcbios') return 'bios'
  if (platform !== 'efi') return undefined
  switch (buildarch) {
    case 'x86_64': return 'efi-x64'
    case 'i386': return 'efi-ia32'
    case 'arm64': return 'efi-arm64'
    case 'arm32': return 'efi-arm32'
    default: return undefined
  }
}

/** A text field iPXE sends: trimmed, without control characters, bounded; empty means "not known". */
function text (value: QueryValue): string | undefined {
  const v = first(value)
  if (v === undefined) return undefined
  // eslint-disable-next-line no-control-regex
  const t = v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 128)
  return t === '' ? undefined : t
}

export function parseMac (value: QueryValue): string {
  const v = first(value)
  const mac = v === undefined ? undefined : normalizeMac(v)
  if (mac === undefined) throw new BadRequestError(`mac is missing or not a MAC address: ${JSON.stringify(text(v) ?? '')}`)
  return mac
}

/** The sighting a boot request records (fields iPXE left empty keep their stored value). */
export function sightingFrom (qs: IdentityQuery): MachineSighting {
  const s: MachineSighting = { mac: parseMac(qs.mac) }
  const given = first(qs.uuid)
  const uuid = given === undefined ? undefined : normalizeUuid(given)
  if (uuid !== undefined) s.uuid = uuid
  const serial = text(qs.serial)
  if (serial !== undefined) s.serial = serial
  const manufacturer = text(qs.manufacturer)
  if (manufacturer !== undefined) s.manufacturer = manufacturer
  const product = text(qs.product)
  if (product !== undefined) s.product = product
  const arch = archFrom(qs.platform, qs.buildarch)
  if (arch !== undefined) s.arch = arch
  return s
}

/** The policy's view of a machine: what it just told us, completed by what we stored before. */
export function clientFrom (m: Pick<Machine, 'mac'> & Partial<Machine>): ClientIdentity {
  const c: ClientIdentity = { mac: m.mac, arch: m.arch ?? 'bios' }
  if (m.uuid !== undefined) c.uuid = m.uuid
  if (m.serial !== undefined) c.serial = m.serial
  if (m.manufacturer !== undefined) c.manufacturer = m.manufacturer
  if (m.product !== undefined) c.product = m.product
  return c
}
