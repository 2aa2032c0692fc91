// The arm64 PE deploys like the x86-64 one (test/pe/deploy.ts): qemu-system-aarch64 -M virt (TCG) runs AAVMF,
// which starts the PE kernel's EFI stub from -kernel/-initrd as iPXE's arm64 build does on a real arm64 server, so
// the PE sees UEFI + ACPI and partitions GPT with an EFI system partition. Networking: QEMU user mode restricted to
// one forward to the stand-in appliance (stub.ts). Measured here (2 cores, TCG, -smp 1): ~58 s in all: firmware
// and kernel to the runner ~13 s, the five steps ~40 s (each jq/curl/fork is slow under TCG), the disk read back
// on the host ~3 s; plus the arm64 PE's up-to-date check (~4 s; a first build ~21 s).
import t from 'tap'
import { deployAndCheck, peTarget } from './deploy.js'

t.test('arm64 PE under AAVMF: deploys a WIM onto a blank virtio disk (GPT + ESP + NTFS), through a dropped connection', async t => {
  const started = Date.now()
  await deployAndCheck(t, peTarget('arm64'))
  t.comment(`arm64 deployment: ${Math.round((Date.now() - started) / 1000)} s`)
})
