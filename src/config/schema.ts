// The config file's schema: the one place that says what an admin may write in appliance.yaml.
// TypeBox gives both the JSON Schema (validated with Ajv, every error at once) and the TypeScript types.
// README's "Config reference" is checked against this file by test/config/readme-sync.test.ts.
import { Type, type Static } from '@sinclair/typebox'

const Str = (description: string, extra: object = {}) => Type.String({ description, ...extra })
const Port = (description: string, def: number) =>
  Type.Integer({ minimum: 0, maximum: 65535, default: def, description })
const Id = (description: string) =>
  Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description })

/** Client architectures, named after IANA "Processor Architecture Types" (RFC 4578 §2.1, option 93). */
export const ARCHES = ['bios', 'efi-ia32', 'efi-x64', 'efi-arm32', 'efi-arm64', 'efi-x64-http', 'efi-arm64-http'] as const
export type Arch = typeof ARCHES[number]

export const ServerSchema = Type.Object({
  address: Str('IPv4 address advertised to clients (DHCP option 54, next-server, URLs), or "auto" for the first non-loopback IPv4 address', { default: 'auto' }),
  bind: Str('address the DHCP, TFTP and HTTP sockets bind to', { default: '0.0.0.0' }),
  httpBaseUrl: Type.Optional(Str('base URL clients use to reach the HTTP service, when it is not http://address:port (reverse proxy, DNS name)'))
}, { additionalProperties: false, default: {} })

export const PortsSchema = Type.Object({
  dhcp: Port('DHCP server port (RFC 2131)', 67),
  dhcpClient: Port('port DHCP replies are broadcast to (RFC 2131)', 68),
  proxyDhcp: Port('PXE boot-server discovery port (PXE 2.1 §2.2)', 4011),
  tftp: Port('TFTP port (RFC 1350)', 69),
  http: Port('HTTP port (boot scripts, PE, images, APIs)', 80)
}, { additionalProperties: false, default: {} })

export const FullDhcpSchema = Type.Object({
  poolStart: Str('first address of the pool', { format: 'ipv4' }),
  poolEnd: Str('last address of the pool', { format: 'ipv4' }),
  subnetMask: Str('option 1', { format: 'ipv4' }),
  router: Type.Optional(Str('option 3', { format: 'ipv4' })),
  dns: Type.Array(Type.String({ format: 'ipv4' }), { default: [], description: 'option 6' }),
  domain: Type.Optional(Str('option 15')),
  leaseSeconds: Type.Integer({ minimum: 60, maximum: 31536000, default: 3600, description: 'option 51' }),
  reservations: Type.Array(Type.Object({
    mac: Str('MAC address of the client, any usual spelling'),
    ip: Str('the address it always gets: inside the pool\'s subnet, in or outside the pool; nobody else gets it', { format: 'ipv4' }),
    hostname: Type.Optional(Str('option 12 sent to this client'))
  }, { additionalProperties: false }), { default: [], description: 'fixed addresses by MAC (a DHCP reservation)' })
}, { additionalProperties: false, description: 'address pool and options handed out in full mode (required when mode is full)' })

export const DhcpSchema = Type.Object({
  mode: Type.Union([Type.Literal('proxy'), Type.Literal('full'), Type.Literal('off')], { default: 'proxy', description: 'proxy: beside the site DHCP server; full: give addresses too; off: no DHCP' }),
  responseDelayMs: Type.Integer({ minimum: 0, maximum: 10000, default: 0, description: 'wait before answering (sites with several PXE servers)' }),
  answer: Type.Union([Type.Literal('all'), Type.Literal('known')], { default: 'all', description: 'all: answer every PXE client (unknown ones are inventoried and boot locally); known: only machines in a collection or the inventory' }),
  busyPollMicroseconds: Type.Integer({ minimum: 0, maximum: 10000, default: 300, description: 'after each request, keep polling this long for the next one instead of sleeping (lower latency in a boot storm, at the cost of CPU while it lasts); 0 turns it off' }),
  batchReceive: Type.Boolean({ default: true, description: 'read DHCP requests in batches with recvmmsg (native/udp-batch, Linux; less CPU per request in a boot storm); false, or an addon that is not built, uses Node\'s dgram; read at start' }),
  threadPriorityBoost: Type.Integer({ minimum: 0, maximum: 10, default: 5, description: 'nice levels the DHCP thread runs above the rest of the process, so that the appliance\'s own work (inventory writes, HTTP, TFTP) does not preempt DHCP replies in a boot storm; Linux, needs root or CAP_SYS_NICE (otherwise the thread stays level and the log says why); 0 leaves it alone; read at start' }),
  full: Type.Optional(FullDhcpSchema)
}, { additionalProperties: false, default: {} })

export const TftpSchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'run the TFTP server (boot loaders for PXE ROMs)' }),
  root: Str('directory served over TFTP (boot loaders); Debian\'s ipxe package installs them in /usr/lib/ipxe', { default: '/usr/lib/ipxe' }),
  maxTransfers: Type.Integer({ minimum: 1, maximum: 100000, default: 1000, description: 'concurrent transfers overall' }),
  maxTransfersPerClient: Type.Integer({ minimum: 1, maximum: 1000, default: 8, description: 'concurrent transfers per client address' }),
  cacheBytes: Type.Integer({ minimum: 0, default: 67108864, description: 'memory cache for hot files (bytes)' }),
  maxBlksize: Type.Integer({ minimum: 8, maximum: 65464, default: 65464, description: 'RFC 2348 upper bound we accept' }),
  maxWindowsize: Type.Integer({ minimum: 1, maximum: 65535, default: 64, description: 'RFC 7440 upper bound we accept' }),
  retries: Type.Integer({ minimum: 1, maximum: 50, default: 6, description: 'retransmissions before a transfer is abandoned' }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 255000, default: 1000, description: 'first retransmission timeout (doubles each retry)' }),
  busyPollMicroseconds: Type.Integer({ minimum: 0, maximum: 10000, default: 200, description: 'after sending, keep polling this long for the client\'s ACK instead of sleeping (faster lockstep transfers for clients that answer within it, at the cost of CPU); 0 turns it off' })
}, { additionalProperties: false, default: {} })

export const HttpSchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'run the HTTP server (iPXE scripts, PE, images, APIs)' }),
  adminToken: Type.Optional(Str('bearer token for the admin API (or env NETBOOT_ADMIN_TOKEN); without one the admin API answers only on loopback')),
  pxePassword: Type.Optional(Str('password asked before the menu of available deployments (ConfigMgr "PXE password")')),
  menuTimeoutSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 10, description: 'menu of available deployments falls through to the local disk after this' }),
  captureToken: Type.Optional(Str('token capture media (netboot media build --capture) present to upload a captured image; without it only deployments with a capture step can upload')),
  uploadExpiryHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 8760, description: 'an unfinished capture upload untouched this long is deleted (default 24)' }))
}, { additionalProperties: false, default: {} })

/** Where scripts/fetch-trixie-loaders.sh puts the Secure Boot chain (shim, GRUB, MokManager). */
export const DEFAULT_SECURE_BOOT_DIR = '/usr/local/lib/netboot/secureboot'

export const BootLoadersSchema = Type.Object({
  bios: Str('TFTP path of the BIOS loader (option 93 = 0)', { default: 'undionly.kpxe' }),
  efiIa32: Str('option 93 = 6', { default: 'ipxe-ia32.efi' }),
  efiX64: Str('option 93 = 7, 9', { default: 'ipxe.efi' }),
  efiArm64: Str('option 93 = 11', { default: 'ipxe-arm64.efi' }),
  httpX64: Str('HTTP path served to x64 UEFI HTTP Boot (option 93 = 16)', { default: 'ipxe.efi' }),
  httpArm64: Str('HTTP path served to arm64 UEFI HTTP Boot (option 93 = 19)', { default: 'ipxe-arm64.efi' }),
  secureBoot: Type.Boolean({ default: false, description: 'x86-64 UEFI machines (option 93 = 7, 9 and 16) get the Secure Boot chain instead of iPXE: shim (signed by Microsoft) → GRUB (signed by Debian) → the PE\'s signed kernel, so machines with Secure Boot on can boot; WinPE and the PXE password prompt need iPXE' }),
  secureBootDir: Str('directory holding shimx64.efi, grubx64.efi and mmx64.efi, and gcdx64.efi for the capture media\'s UEFI boot (scripts/fetch-trixie-loaders.sh puts Debian trixie\'s signed builds there)', { default: DEFAULT_SECURE_BOOT_DIR })
}, { additionalProperties: false, default: {} })

export const PathsSchema = Type.Object({
  images: Str('the image store (WIM files)', { default: 'images' }),
  state: Str('the state store (level database) and temporary uploads', { default: 'state' }),
  pe: Str('directory holding the built Linux PE: vmlinuz and initrd.img for x86-64, the same in arm64/ for arm64 (netboot pe build [--arch arm64])', { default: 'boot/pe/build' }),
  winpe: Type.Optional(Str('directory holding WinPE files (wimboot, BCD, boot.sdi, boot.wim), if the admin supplies them')),
  files: Str('directory of driver/file packages that applyFiles steps name', { default: 'files' })
}, { additionalProperties: false, default: {} })

export const DeploymentSchema = Type.Object({
  checkInTimeoutMinutes: Type.Integer({ minimum: 1, maximum: 10080, default: 60, description: 'a PE that booted and never reports is failed after this' }),
  tokenTtlMinutes: Type.Integer({ minimum: 1, maximum: 10080, default: 1440, description: 'lifetime of a deployment token' })
}, { additionalProperties: false, default: {} })

export const ImageSchema = Type.Object({
  id: Id('image id, named by applyImage steps'),
  file: Str('WIM file name inside the image store'),
  description: Type.Optional(Str('free text for people'))
}, { additionalProperties: false })

const StepBase = {
  name: Type.Optional(Str('label shown in progress and logs')),
  continueOnError: Type.Optional(Type.Boolean({ default: false, description: 'a failure of this step does not fail the task sequence' }))
}
export const StepSchema = Type.Union([
  Type.Object({ type: Type.Literal('partition'), ...StepBase, disk: Type.Optional(Str('target disk, default: first fixed disk')), scheme: Type.Union([Type.Literal('auto'), Type.Literal('gpt'), Type.Literal('mbr')], { default: 'auto', description: 'auto: GPT + EFI system partition on UEFI, MBR on BIOS' }), filesystem: Type.Union([Type.Literal('ntfs'), Type.Literal('ext4')], { default: 'ntfs', description: 'file system of the main (OS) partition' }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('applyImage'), ...StepBase, image: Id('image id'), index: Type.Integer({ minimum: 1, default: 1, description: 'image index inside the WIM' }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('applyFiles'), ...StepBase, source: Str('path under paths.files'), destination: Str('path on the target volume') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('setComputerName'), ...StepBase, computerName: Str('name, may use variables like ${serial}') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('runCommand'), ...StepBase, command: Str('shell command run in the PE; the target volume is mounted at $TARGET') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('makeBootable'), ...StepBase, kernelArgs: Type.Optional(Str('added to the kernel command line, after GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT of the image\'s /etc/default/grub')), keepIdentity: Type.Boolean({ default: false, description: 'keep the image\'s /etc/machine-id and SSH host keys (a machine restored from its own capture); by default the deployed machine gets a new machine ID and new SSH host keys' }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('reboot'), ...StepBase }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('capture'), ...StepBase, image: Id('id of the new image'), volume: Str('volume to capture, "auto" = the largest NTFS volume, else the largest ext4 one (captured with its UNIX data)', { default: 'auto' }), imageName: Type.Optional(Str('name stored in the WIM\'s XML catalogue')), compression: Type.Union([Type.Literal('none'), Type.Literal('xpress'), Type.Literal('lzx'), Type.Literal('lzms')], { default: 'lzx', description: 'WIM compression (lzms: smallest, slowest)' }) }, { additionalProperties: false })
])

export const TaskSequenceSchema = Type.Object({
  id: Id('task sequence id'),
  name: Type.Optional(Str('label shown in menus and progress')),
  variables: Type.Record(Type.String(), Type.String(), { default: {}, description: 'values steps can use as ${NAME}, besides the built-in machine ones' }),
  steps: Type.Array(StepSchema, { minItems: 1 })
}, { additionalProperties: false })

export const MachineRefSchema = Type.Object({
  mac: Type.Optional(Str('MAC address, any usual spelling')),
  uuid: Type.Optional(Str('SMBIOS UUID')),
  serial: Type.Optional(Str('serial number')),
  name: Type.Optional(Str('label for people'))
}, { additionalProperties: false, minProperties: 1 })

export const RuleSchema = Type.Object({
  unknown: Type.Optional(Type.Boolean({ description: 'machines in no other collection (ConfigMgr "All Unknown Computers")' })),
  arch: Type.Optional(Type.Union(ARCHES.map(a => Type.Literal(a)), { description: 'client architecture (DHCP option 93)' })),
  macPrefix: Type.Optional(Str('e.g. "52:54:00"')),
  manufacturer: Type.Optional(Str('SMBIOS system manufacturer, as the PE reports it')),
  product: Type.Optional(Str('SMBIOS product name, as the PE reports it'))
}, { additionalProperties: false, minProperties: 1 })

export const CollectionSchema = Type.Object({
  id: Id('collection id'),
  name: Type.Optional(Str('label for people')),
  members: Type.Array(MachineRefSchema, { default: [], description: 'machines by identity: an entry matches a machine when every identifier it gives matches' }),
  rules: Type.Array(RuleSchema, { default: [], description: 'machines by property: a rule matches when all its conditions hold; the collection takes every machine any rule matches' })
}, { additionalProperties: false })

export const AdvertisementSchema = Type.Object({
  id: Id('advertisement id'),
  taskSequence: Id('task sequence id'),
  collection: Id('collection id'),
  purpose: Type.Union([Type.Literal('required'), Type.Literal('available')], { default: 'available', description: 'required: runs at the next PXE boot; available: offered in the boot menu' }),
  start: Type.Optional(Str('ISO 8601 time before which it is not offered', { format: 'date-time' })),
  expires: Type.Optional(Str('ISO 8601 time after which it is not offered', { format: 'date-time' })),
  rerun: Type.Union([Type.Literal('never'), Type.Literal('always'), Type.Literal('ifFailed')], { default: 'never', description: 'after a deployment ends: never run again, always, or only if it failed' })
}, { additionalProperties: false })

export const ConfigSchema = Type.Object({
  server: ServerSchema,
  ports: PortsSchema,
  dhcp: DhcpSchema,
  tftp: TftpSchema,
  http: HttpSchema,
  bootLoaders: BootLoadersSchema,
  paths: PathsSchema,
  deployment: DeploymentSchema,
  images: Type.Array(ImageSchema, { default: [] }),
  taskSequences: Type.Array(TaskSequenceSchema, { default: [] }),
  collections: Type.Array(CollectionSchema, { default: [] }),
  advertisements: Type.Array(AdvertisementSchema, { default: [] }),
  protected: Type.Array(MachineRefSchema, { default: [], description: 'site servers: never receive a required deployment' })
}, { additionalProperties: false })

export type RawConfig = Static<typeof ConfigSchema>
export type Step = Static<typeof StepSchema>
export type TaskSequence = Static<typeof TaskSequenceSchema>
export type MachineRef = Static<typeof MachineRefSchema>
export type Rule = Static<typeof RuleSchema>
export type Collection = Static<typeof CollectionSchema>
export type Advertisement = Static<typeof AdvertisementSchema>
export type ImageRef = Static<typeof ImageSchema>
export type FullDhcp = Static<typeof FullDhcpSchema>

/**
 * The config every service reads: validated, defaults filled, MACs lowercase `aa:bb:cc:dd:ee:ff`, UUIDs lowercase
 * 8-4-4-4-12, paths absolute, server.address resolved, and deep-frozen. Never mutated; a reload swaps it whole.
 */
export type AppConfig = RawConfig & {
  /** absolute path of the file it was loaded from, or '<embedded>' */
  readonly source: string
  /** http base URL clients use, no trailing slash, e.g. http://10.0.0.1:8080 */
  readonly httpBaseUrl: string
}
