// The lab API for tests and `netboot lab`: network namespaces + bridge + taps, a stand-in site DHCP server,
// the appliance, QEMU VMs (TCG) and disk/WIM helpers. Everything is torn down by its close()/stop()/kill().
export { createLab, killChild, sh, type Lab } from './netns.js'
export { startVm, waitForLine, serialFacts, serialSize, blankDisk, isSecureBoot, OVMF_CODE, OVMF_VARS, type Vm, type VmOptions, type Firmware } from './qemu.js'
export { startDnsmasq, startAppliance, waitFor, REPO_ROOT, type Appliance, type Dnsmasq } from './services.js'
export { makeTree, hashTree, makeWim, partitionTable, extractNtfs, type Partition, type PartitionTable } from './disk.js'
export { labConfig, type LabConfigOptions } from './config.js'
