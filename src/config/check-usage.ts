// Settings that are each valid but together do something an admin rarely means: reported as warnings.
import { entries, section, str, type Obj, type Reporter } from './report.js'

export function checkUsage (data: Obj, r: Reporter): void {
  const dhcpOn = section(data, 'dhcp').mode !== 'off'
  const http = section(data, 'http')
  const ads = entries(data.advertisements)
  if (section(data, 'tftp').enabled === false && dhcpOn) {
    r.warn(['tftp', 'enabled'], 'TFTP is disabled but DHCP answers PXE clients: PXE ROMs cannot fetch their boot loader',
      'only UEFI HTTP Boot clients will boot; enable tftp or set dhcp.mode: off')
  }
  if (http.enabled === false && ads.length > 0) {
    r.warn(['http', 'enabled'], 'HTTP is disabled: no boot script, PE or image can be served, so no advertisement can run',
      'enable http')
  }
  const token = str(http.adminToken)
  if (token !== undefined && token.length < 16) {
    r.warn(['http', 'adminToken'], `http.adminToken is only ${token.length} characters long`, 'use at least 16 random characters, e.g. `openssl rand -hex 24`')
  }
  const sequences = new Map(entries(data.taskSequences).map(([, s]) => [str(s.id), s]))
  const collections = new Map(entries(data.collections).map(([, c]) => [str(c.id), c]))
  for (const [i, ad] of ads) {
    if (ad.purpose !== 'required') continue
    const name = str(ad.id) ?? String(i)
    if (ad.rerun === 'always') {
      r.warn(['advertisements', i, 'rerun'], `required advertisement '${name}' with rerun: always runs again at every PXE boot of its machines`,
        'machines that PXE-boot first would be re-imaged at every restart; use ifFailed or never')
    }
    const seq = sequences.get(str(ad.taskSequence))
    const col = collections.get(str(ad.collection))
    const captures = entries(seq?.steps).some(([, s]) => s.type === 'capture')
    const many = col !== undefined && (entries(col.rules).length > 0 || entries(col.members).length > 1)
    if (captures && many) {
      r.warn(['advertisements', i, 'purpose'], `required advertisement '${name}' runs a capture sequence on a collection of several machines`,
        'each would capture over the same image id; target the one reference machine')
    }
  }
}
