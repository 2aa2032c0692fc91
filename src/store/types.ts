// The state store's interfaces. Callers see domain objects, never keys. Implementations: level.ts (classic-level,
// durable) and memory.ts (tests); test/store/contract.ts runs one suite against both.
import type { Arch } from '../config/schema.js'

/** A machine the appliance has heard from (DHCP or HTTP): the inventory behind the "unknown" collection. */
export interface Machine {
  mac: string                 // aa:bb:cc:dd:ee:ff
  uuid?: string               // SMBIOS UUID, lowercase 8-4-4-4-12
  serial?: string
  manufacturer?: string
  product?: string
  arch?: Arch
  vendorClass?: string        // DHCP option 60
  ip?: string
  firstSeen: string           // ISO 8601
  lastSeen: string
  /** Set by an admin (`netboot machines protect`): never receives a required deployment. */
  protected?: boolean
  /** Set by an admin (`netboot machines reimage`): deployments that ended before this time no longer count. */
  reimageAfter?: string
}

/** What a sighting contributes; fields left undefined keep their stored value. */
export type MachineSighting = Pick<Machine, 'mac'> & Partial<Omit<Machine, 'mac' | 'firstSeen' | 'lastSeen' | 'protected' | 'reimageAfter'>>

export type DeploymentState = 'advertised' | 'booting' | 'running' | 'succeeded' | 'failed'

export interface Deployment {
  id: string
  advertisementId: string
  taskSequenceId: string
  mac: string
  purpose: 'required' | 'available'
  state: DeploymentState
  /** SHA-256 (hex) of the one-time deployment token; the token itself is never stored. */
  tokenHash: string
  tokenExpiresAt: string
  totalSteps: number
  /** 0-based index of the step running or last run */
  currentStep?: number
  /** 0..100 within the current step */
  progress?: number
  createdAt: string
  updatedAt: string
  endedAt?: string
  error?: string
  logTail?: string
}

export interface DeploymentEvent {
  deploymentId: string
  seq: number                 // 1, 2, 3… per deployment, assigned by the store
  at: string
  type: string                // 'created' | 'booting' | 'step-start' | 'step-progress' | 'step-end' | 'log' | 'succeeded' | 'failed' | …
  step?: number
  message?: string
  progress?: number
}

export interface Lease {
  mac: string
  ip: string
  state: 'offered' | 'bound' | 'declined' | 'released'
  expiresAt: string
  hostname?: string
}

export interface ImageEntry {
  id: string
  file: string                // file name inside the image store
  size: number
  sha256: string
  addedAt: string
  /** WIM header and XML catalogue as read by src/images/wim.ts */
  wim: unknown
}

export interface MachineStore {
  get (mac: string): Promise<Machine | undefined>
  /** Record a sighting at `at`: creates the machine (firstSeen = lastSeen = at) or merges into it. */
  recordSighting (s: MachineSighting, at: Date): Promise<Machine>
  /**
   * Record many sightings in one store write, each merged as by recordSighting, in list order (two sightings of one
   * MAC: the second merges into the first). Returns the machine after each entry, in list order. All or nothing.
   */
  recordSightings (list: ReadonlyArray<{ sighting: MachineSighting, at: Date }>): Promise<Machine[]>
  /** Proves the store usable: a real write and read-back of a meta record (never a machine). Rejects like any call. */
  ping (): Promise<void>
  update (mac: string, patch: Partial<Omit<Machine, 'mac' | 'firstSeen'>>): Promise<Machine>
  list (): Promise<Machine[]>
}

/** An event written together with a deployment (create, update): the store fills in deploymentId and seq. */
export type NewDeploymentEvent = Omit<DeploymentEvent, 'seq' | 'deploymentId'>

export interface DeploymentStore {
  /** Creates d and appends `events` to it in one atomic write. */
  create (d: Deployment, events?: NewDeploymentEvent[]): Promise<void>
  get (id: string): Promise<Deployment | undefined>
  /**
   * Patches the deployment and appends `events` (seqs after its last event) in one atomic write: a crash never
   * leaves a state change without the event that explains it, or an event for a change that was not stored.
   */
  update (id: string, patch: Partial<Omit<Deployment, 'id'>>, events?: NewDeploymentEvent[]): Promise<Deployment>
  listByMachine (mac: string): Promise<Deployment[]>
  list (): Promise<Deployment[]>
  /** Appends an event, assigning the next seq. Returns it. */
  appendEvent (e: Omit<DeploymentEvent, 'seq'>): Promise<DeploymentEvent>
  events (deploymentId: string): Promise<DeploymentEvent[]>
}

export interface LeaseStore {
  get (mac: string): Promise<Lease | undefined>
  put (l: Lease): Promise<void>
  delete (mac: string): Promise<void>
  list (): Promise<Lease[]>
}

export interface ImageCatalog {
  get (id: string): Promise<ImageEntry | undefined>
  put (e: ImageEntry): Promise<void>
  delete (id: string): Promise<void>
  list (): Promise<ImageEntry[]>
}

export interface Store {
  machines: MachineStore
  deployments: DeploymentStore
  leases: LeaseStore
  images: ImageCatalog
  /**
   * Optional: runs the machine-sighting write path (machines.recordSightings) on scratch data that is not kept, so
   * that the first boot storm after start does not pay for compiling it. Never touches stored data; may reject
   * (harmless: the caller logs it at debug).
   */
  warmUp? (): Promise<void>
  close (): Promise<void>
}
