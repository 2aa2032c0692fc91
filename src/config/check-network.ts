// Addresses, ports and the full-DHCP pool: what would make the services fail to start or hand out
// addresses clients cannot use.
import { isIPv4 } from 'node:net'
import { section, str, type Obj, type Reporter } from './report.js'
import { localIPv4s, type InterfaceLister } from './finalize.js'
import { isPlaceholderMac, normalizeMac } from './ids.js'

export function ipToInt (ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)
}

export function intToIp (n: number): string {
  return [24, 16, 8, 0].map(s => Math.floor(n / 2 ** s) % 256).join('.')
}

/** A netmask is a run of ones then zeros (RFC 950 §2.1 allows others; nobody uses them and DHCP clients break). */
function prefixLength (mask: number): number | undefined {
  for (let len = 0; len <= 32; len++) {
    const m = len === 0 ? 0 : (0xffffffff - (2 ** (32 - len) - 1))
    if (m === mask) return len
  }
  return undefined
}

export function checkServer (data: Obj, r: Reporter): void {
  const server = section(data, 'server')
  const address = str(server.address)
  if (address !== undefined && address !== 'auto') {
    if (!isIPv4(address)) {
      r.error(['server', 'address'], `server.address '${address}' is neither an IPv4 address nor "auto"`, 'clients need an IPv4 address (DHCP option 54, next-server)')
    } else if (address === '0.0.0.0' || address === '255.255.255.255' || (ipToInt(address) >>> 28) === 14) {
      r.error(['server', 'address'], `server.address ${address} cannot be reached by clients`, 'give this machine\'s address on the boot network, or "auto"')
    }
  }
  const bind = str(server.bind)
  if (bind !== undefined && !isIPv4(bind)) r.error(['server', 'bind'], `server.bind '${bind}' is not an IPv4 address`, '0.0.0.0 binds every interface')
  const base = str(server.httpBaseUrl)
  if (base !== undefined) {
    let ok = false
    try {
      const u = new URL(base)
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === ''
    } catch {}
    if (!ok) r.error(['server', 'httpBaseUrl'], `server.httpBaseUrl '${base}' is not an http:// or https:// URL`, 'e.g. http://deploy.example.net:8080 (no query string)')
  }
}

export function checkPorts (data: Obj, r: Reporter): void {
  const ports = section(data, 'ports')
  const dhcpOn = section(data, 'dhcp').mode !== 'off'
  const tftpOn = section(data, 'tftp').enabled !== false
  // UDP ports this process binds; two services cannot share one (HTTP is TCP and may share a number).
  const udp: Array<[string, boolean]> = [['dhcp', dhcpOn], ['proxyDhcp', dhcpOn], ['tftp', tftpOn]]
  const seen = new Map<number, string>()
  for (const [name, on] of udp) {
    const p = ports[name]
    if (!on || typeof p !== 'number' || p === 0) continue
    const other = seen.get(p)
    if (other !== undefined) {
      r.error(['ports', name], `ports.${name} and ports.${other} are both UDP port ${p}`, 'each UDP service needs its own port')
    } else seen.set(p, name)
  }
}

export function checkDhcp (data: Obj, r: Reporter): void {
  const dhcp = section(data, 'dhcp')
  const full = dhcp.full
  if (dhcp.mode === 'full' && (full === undefined || full === null)) {
    r.error(['dhcp', 'mode'], 'dhcp.mode is full but there is no dhcp.full block', 'add dhcp.full with poolStart, poolEnd and subnetMask (see config/examples/isolated-lab.yaml)')
    return
  }
  if (dhcp.mode !== 'full') {
    if (full !== undefined) r.warn(['dhcp', 'full'], `dhcp.full is ignored because dhcp.mode is ${String(dhcp.mode)}`, 'set mode: full to hand out addresses')
    return
  }
  checkPool(section(dhcp, 'full'), str(section(data, 'server').address), r)
}

function checkPool (full: Obj, serverAddress: string | undefined, r: Reporter): void {
  const start = str(full.poolStart)
  const end = str(full.poolEnd)
  const maskS = str(full.subnetMask)
  if (start === undefined || end === undefined || maskS === undefined || !isIPv4(start) || !isIPv4(end) || !isIPv4(maskS)) return
  const at = (k: string): string[] => ['dhcp', 'full', k]
  const mask = ipToInt(maskS)
  const len = prefixLength(mask)
  if (len === undefined || len === 0 || len > 30) {
    r.error(at('subnetMask'), `subnetMask ${maskS} is not a usable netmask`, 'contiguous ones, /1 to /30, e.g. 255.255.255.0')
    return
  }
  const s = ipToInt(start)
  const e = ipToInt(end)
  const net = Math.floor(s / 2 ** (32 - len)) * 2 ** (32 - len)
  const bcast = net + 2 ** (32 - len) - 1
  const subnet = `${intToIp(net)}/${len}`
  if (s > e) r.error(at('poolStart'), `poolStart ${start} is after poolEnd ${end}`, 'swap them')
  if (e < net || e > bcast) r.error(at('poolEnd'), `poolEnd ${end} is outside the subnet ${subnet} of poolStart`, `with subnetMask ${maskS} the pool must lie in ${intToIp(net)}–${intToIp(bcast)}`)
  if (s === net) r.error(at('poolStart'), `poolStart ${start} is the network address of ${subnet}`, 'start the pool at least one address higher')
  if (e === bcast) r.error(at('poolEnd'), `poolEnd ${end} is the broadcast address of ${subnet}`, 'end the pool at least one address lower')
  const router = str(full.router)
  if (router !== undefined && isIPv4(router)) {
    const ri = ipToInt(router)
    if (ri < net || ri > bcast) r.error(at('router'), `router ${router} is outside the subnet ${subnet}`, 'clients cannot reach a gateway outside their subnet')
    else if (ri >= s && ri <= e) r.error(at('router'), `router ${router} lies inside the pool ${start}–${end}`, 'a client could be given the router\'s address; shrink the pool')
  }
  if (serverAddress !== undefined && isIPv4(serverAddress)) {
    const a = ipToInt(serverAddress)
    if (a >= s && a <= e) r.error(at('poolStart'), `the pool ${start}–${end} contains server.address ${serverAddress}`, 'a client could be given the appliance\'s own address; shrink the pool')
    else if (a < net || a > bcast) r.warn(['server', 'address'], `server.address ${serverAddress} is outside the pool's subnet ${subnet}`, 'fine behind a DHCP relay; on a flat network clients will not reach the appliance')
  }
  const taken = new Map<number, string>()
  if (router !== undefined && isIPv4(router)) taken.set(ipToInt(router), 'the router')
  if (serverAddress !== undefined && isIPv4(serverAddress)) taken.set(ipToInt(serverAddress), 'server.address')
  checkReservations(full, { net, bcast, subnet }, taken, r)
}

/** dhcp.full.reservations: a well-formed NIC address and a usable address of the subnet, each at most once. */
function checkReservations (full: Obj, sub: { net: number, bcast: number, subnet: string }, taken: Map<number, string>, r: Reporter): void {
  const list = Array.isArray(full.reservations) ? full.reservations as unknown[] : []
  const macs = new Map<string, number>()
  list.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object') return
    const e = entry as Obj
    const at = (k: string): Array<string | number> => ['dhcp', 'full', 'reservations', i, k]
    const mac = str(e.mac)
    const n = mac !== undefined ? normalizeMac(mac) : undefined
    if (mac !== undefined && n === undefined) r.error(at('mac'), `'${mac}' is not a MAC address`, 'six octets, e.g. 52:54:00:12:34:56')
    else if (n !== undefined && isPlaceholderMac(n)) r.error(at('mac'), `${n} is not a NIC address (all-zero, broadcast or multicast)`)
    else if (n !== undefined) {
      const first = macs.get(n)
      if (first !== undefined) r.error(at('mac'), `${n} is reserved twice (reservations ${first + 1} and ${i + 1})`, 'a client gets one address: keep one entry')
      else macs.set(n, i)
    }
    const ip = str(e.ip)
    if (ip === undefined || !isIPv4(ip)) return
    const a = ipToInt(ip)
    if (a <= sub.net || a >= sub.bcast) {
      r.error(at('ip'), `reserved address ${ip} is not a host address of the subnet ${sub.subnet}`, 'clients of this pool cannot use it')
      return
    }
    const other = taken.get(a)
    if (other !== undefined) r.error(at('ip'), `reserved address ${ip} is already ${other}`, 'two machines with one address: pick another')
    else taken.set(a, `reserved for ${n ?? mac ?? 'another entry'}`)
  })
}

/**
 * An explicit server.address or server.bind that is not an address of this machine: clients would be sent to
 * another host, or the sockets cannot bind. Warnings, because the file may be checked on another machine
 * than the appliance it is meant for (or the appliance sits behind NAT).
 */
export function checkLocalAddresses (data: Obj, r: Reporter, list?: InterfaceLister): void {
  const mine = localIPv4s(list)
  const server = section(data, 'server')
  const address = str(server.address)
  if (address !== undefined && isIPv4(address) && !mine.has(address) && !address.startsWith('127.')) {
    r.warn(['server', 'address'], `server.address ${address} is not an address of this machine (${[...mine].join(', ')})`,
      'clients are sent to this address: fine behind NAT or when checking a config for another appliance, otherwise a typo')
  }
  const bind = str(server.bind)
  if (bind !== undefined && isIPv4(bind) && bind !== '0.0.0.0' && !mine.has(bind)) {
    r.warn(['server', 'bind'], `server.bind ${bind} is not an address of this machine: the services will not start here`, 'use 0.0.0.0 or one of ' + [...mine].join(', '))
  }
}
