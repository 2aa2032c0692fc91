// Machine identifiers as admins write them, normalized to one spelling so that lookups and duplicate checks
// compare like with like. Pure functions; the loader reports what they reject.

const HEX = /^[0-9a-f]+$/

/**
 * A MAC address in any usual spelling — `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`, Cisco `aabb.ccdd.eeff`,
 * bare `aabbccddeeff` — as lowercase `aa:bb:cc:dd:ee:ff`; undefined when it is not one.
 */
export function normalizeMac (s: string): string | undefined {
  const octets = splitOctets(s)
  return octets?.length === 6 ? octets.join(':') : undefined
}

/** A MAC prefix of 1 to 6 whole octets (`52:54:00`, `52-54-00`, `525400`) as `52:54:00`; undefined otherwise. */
export function normalizeMacPrefix (s: string): string | undefined {
  // no single-digit padding here: "52:5" is more likely half an octet than 52:05
  const octets = splitOctets(s, false)
  return octets !== undefined && octets.length >= 1 && octets.length <= 6 ? octets.join(':') : undefined
}

function splitOctets (s: string, pad = true): string[] | undefined {
  const t = s.trim().toLowerCase()
  if (t === '') return undefined
  let parts: string[]
  if (/^[0-9a-f]{1,2}([:-][0-9a-f]{1,2})*$/.test(t)) {
    // colon or dash separated; a single-digit octet (as `ip link` never prints, but people type) is padded
    if (t.includes(':') && t.includes('-')) return undefined
    parts = t.split(/[:-]/)
    if (!pad && parts.some(p => p.length !== 2)) return undefined
    parts = parts.map(p => p.padStart(2, '0'))
  } else if (/^[0-9a-f]{4}(\.[0-9a-f]{4})*$/.test(t)) {
    parts = chunk(t.replace(/\./g, ''))                     // Cisco dotted quads of hex digits
  } else if (HEX.test(t) && t.length % 2 === 0) {
    parts = chunk(t)
  } else {
    return undefined
  }
  return parts
}

function chunk (hex: string): string[] {
  const out: string[] = []
  for (let i = 0; i < hex.length; i += 2) out.push(hex.slice(i, i + 2))
  return out
}

/** True for addresses no NIC has: all-zero, broadcast, or multicast (I/G bit of the first octet set). */
export function isPlaceholderMac (mac: string): boolean {
  return mac === '00:00:00:00:00:00' || (parseInt(mac.slice(0, 2), 16) & 1) === 1
}

/**
 * An SMBIOS system UUID (DHCP option 97 carries it too, RFC 4578 §2.3) with or without dashes or braces, any
 * case, as lowercase 8-4-4-4-12; undefined when it is not 32 hex digits.
 */
export function normalizeUuid (s: string): string | undefined {
  let t = s.trim().toLowerCase()
  if (t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1)
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(t)) return t
  if (!/^[0-9a-f]{32}$/.test(t)) return undefined
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-${t.slice(12, 16)}-${t.slice(16, 20)}-${t.slice(20)}`
}

/** Firmware that never had a UUID programmed reports all zeros or all ones: many machines share it. */
export function isPlaceholderUuid (uuid: string): boolean {
  return /^[0-]+$/.test(uuid) || /^[f-]+$/.test(uuid)
}

/** Serial numbers that boards ship with unset: matching on them would match a whole shelf of machines. */
const PLACEHOLDER_SERIALS = new Set([
  'to be filled by o.e.m.', 'system serial number', 'default string', 'not specified', 'not applicable',
  'none', 'n/a', '0', '00000000', '0123456789', '123456789', 'chassis serial number', 'serial'
])

export function isPlaceholderSerial (serial: string): boolean {
  return PLACEHOLDER_SERIALS.has(serial.trim().toLowerCase())
}
