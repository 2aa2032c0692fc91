// Turn validated data into the AppConfig services read: identifiers in one spelling, the advertised
// address resolved, the HTTP base URL computed, paths absolute, everything frozen.
import { networkInterfaces as osInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { resolve } from 'node:path'
import type { AppConfig, MachineRef, RawConfig } from './schema.js'
import { normalizeMac, normalizeMacPrefix, normalizeUuid } from './ids.js'

export type InterfaceLister = () => NodeJS.Dict<NetworkInterfaceInfo[]>

export interface FinalizeOptions {
  source: string
  /** relative paths in the file are resolved against this (default: process.cwd()) */
  cwd: string
  networkInterfaces?: InterfaceLister
}

/** The first non-internal IPv4 address, in the order the OS lists interfaces; undefined if there is none. */
export function firstIPv4 (list: InterfaceLister = osInterfaces): string | undefined {
  for (const addrs of Object.values(list())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address
    }
  }
  return undefined
}

/** Every IPv4 address of this machine, loopback included. */
export function localIPv4s (list: InterfaceLister = osInterfaces): Set<string> {
  const out = new Set<string>()
  for (const addrs of Object.values(list())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') out.add(a.address)
  }
  return out
}

function machine (m: MachineRef): MachineRef {
  const out: MachineRef = { ...m }
  if (m.mac !== undefined) out.mac = normalizeMac(m.mac) ?? m.mac
  if (m.uuid !== undefined) out.uuid = normalizeUuid(m.uuid) ?? m.uuid
  if (m.serial !== undefined) out.serial = m.serial.trim()
  return out
}

/** Returns the config and, when "auto" found no address, a warning text. */
export function finalize (raw: RawConfig, opts: FinalizeOptions): { config: AppConfig, autoWarning?: string } {
  const c = structuredClone(raw)
  let autoWarning: string | undefined
  if (c.server.address === 'auto') {
    const found = firstIPv4(opts.networkInterfaces)
    if (found === undefined) autoWarning = 'server.address is "auto" but this machine has no non-loopback IPv4 address: advertising 127.0.0.1'
    c.server.address = found ?? '127.0.0.1'
  }
  const abs = (p: string): string => resolve(opts.cwd, p)
  c.paths.images = abs(c.paths.images)
  c.paths.state = abs(c.paths.state)
  c.paths.pe = abs(c.paths.pe)
  c.paths.files = abs(c.paths.files)
  if (c.paths.winpe !== undefined) c.paths.winpe = abs(c.paths.winpe)
  c.bootLoaders.secureBootDir = abs(c.bootLoaders.secureBootDir)
  c.tftp.root = abs(c.tftp.root)
  c.protected = c.protected.map(machine)
  for (const col of c.collections) {
    col.members = col.members.map(machine)
    for (const rule of col.rules) {
      if (rule.macPrefix !== undefined) rule.macPrefix = normalizeMacPrefix(rule.macPrefix) ?? rule.macPrefix
    }
  }
  if (c.dhcp.full !== undefined) {
    c.dhcp.full.reservations = c.dhcp.full.reservations.map(r => ({ ...r, mac: normalizeMac(r.mac) ?? r.mac }))
  }
  if (c.server.httpBaseUrl !== undefined) c.server.httpBaseUrl = c.server.httpBaseUrl.replace(/\/+$/, '')
  const httpBaseUrl = c.server.httpBaseUrl ??
    `http://${c.server.address}${c.ports.http === 80 ? '' : `:${c.ports.http}`}`
  const config: AppConfig = { ...c, source: opts.source, httpBaseUrl }
  return { config: deepFreeze(config), autoWarning }
}

export function deepFreeze<T> (o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o)
    for (const v of Object.values(o as object)) deepFreeze(v)
  }
  return o
}
