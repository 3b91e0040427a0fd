// The extension hooks of FakeRm (initVm, vmResources, startVm) that an emulator's RM builds on.
import { describe, expect, it } from 'vitest';
import {
  FakeRm,
  RM_RESOURCE_TYPE,
  RM_VM_STATUS,
  RmClient,
  RmError,
  createMemoryTransportPair,
  type FakeRmParcel,
  type FakeRmVm,
  type HypResource,
  type RmTransport,
} from '../src/index.js';

class ModelRm extends FakeRm {
  seen: string[] = [];
  failInit = false;
  failStart = false;
  constructor(t: RmTransport) {
    super(t);
  }
  protected override initVm(vm: FakeRmVm, image: FakeRmParcel | undefined): void {
    this.seen.push(`init ${vm.vmid} handle=${String(image?.handle)} dtb=${String(vm.image?.dtbOffset)}+${String(vm.image?.dtbSize)}`);
    if (this.failInit) throw new RmError('ARGUMENT_INVALID');
  }
  protected override vmResources(vm: FakeRmVm): HypResource[] {
    return [
      { type: RM_RESOURCE_TYPE.VCPU, partnerVmid: 0, resourceHandle: 0, resourceLabel: 7, capId: 0x99n, virqHandle: 0, virq: 0, base: 0n, size: 0n },
      { type: RM_RESOURCE_TYPE.DOORBELL_TX, partnerVmid: vm.vmid, resourceHandle: 1, resourceLabel: 0, capId: 0x9an, virqHandle: 0, virq: 0, base: 0n, size: 0n },
    ];
  }
  protected override startVm(vm: FakeRmVm): void {
    this.seen.push(`start ${vm.vmid} status=${vm.status}`);
    if (this.failStart) throw new RmError('DENIED');
  }
}

async function configured(failInit = false, failStart = false) {
  const [hostEnd, rmEnd] = createMemoryTransportPair();
  const rm = new ModelRm(rmEnd);
  rm.failInit = failInit;
  rm.failStart = failStart;
  const client = new RmClient(hostEnd);
  const statuses: number[] = [];
  client.on('VM_STATUS', (s) => statuses.push(s.vmStatus));
  const { vmid } = await client.call('VM_ALLOC_VMID', { vmid: 0 });
  const guest = vmid as number;
  const { handle } = await client.call('MEM_LEND', { memType: 0, flags: 0, label: 0, acl: [{ vmid: guest, rights: 7 }], sgl: [{ address: 0x80000000n, size: 0x200000n }], attrs: [] });
  await client.call('VM_CONFIG_IMAGE', { vmid: guest, authMechanism: 0, handle, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1f0000n, dtbSize: 0x10000n });
  return { rm, client, guest, handle, statuses };
}

const rmName = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e instanceof RmError ? e.rmErrorName : 'other';
  }
  return 'ok';
};

describe('FakeRm extension hooks', () => {
  it('records the config image window and passes it to initVm with the image parcel', async () => {
    const { rm, client, guest, handle, statuses } = await configured();
    expect(rm.vm(guest)?.image).toEqual({ authMechanism: 0, imageOffset: 0n, imageSize: 0n, dtbOffset: 0x1f0000n, dtbSize: 0x10000n });
    await client.call('VM_INIT', { vmid: guest });
    expect(rm.seen).toEqual([`init ${guest} handle=${handle} dtb=2031616+65536`]);
    expect(statuses.at(-1)).toBe(RM_VM_STATUS.READY);
  });

  it('an RmError from initVm fails VM_INIT with INIT_FAILED before the error reply', async () => {
    const { rm, client, guest, statuses } = await configured(true);
    expect(await rmName(client.call('VM_INIT', { vmid: guest }))).toBe('ARGUMENT_INVALID');
    expect(statuses.at(-1)).toBe(RM_VM_STATUS.INIT_FAILED);
    expect(rm.vm(guest)?.status).toBe(RM_VM_STATUS.INIT_FAILED);
  });

  it('vmResources answers VM_GET_HYP_RESOURCES', async () => {
    const { client, guest } = await configured();
    const { resources } = await client.call('VM_GET_HYP_RESOURCES', { vmid: guest });
    expect(resources.map((r) => [r.type, r.resourceLabel, r.capId])).toEqual([
      [RM_RESOURCE_TYPE.VCPU, 7, 0x99n],
      [RM_RESOURCE_TYPE.DOORBELL_TX, 0, 0x9an],
    ]);
  });

  it('startVm runs in READY; an RmError fails VM_START with INIT_FAILED and leaves parcels unaccepted', async () => {
    const ok = await configured();
    await ok.client.call('VM_INIT', { vmid: ok.guest });
    await ok.client.call('VM_START', { vmid: ok.guest });
    expect(ok.rm.seen.at(-1)).toBe(`start ${ok.guest} status=${RM_VM_STATUS.READY}`);
    expect(ok.rm.parcel(ok.handle)?.acceptedBy.has(ok.guest)).toBe(true);

    const bad = await configured(false, true);
    await bad.client.call('VM_INIT', { vmid: bad.guest });
    expect(await rmName(bad.client.call('VM_START', { vmid: bad.guest }))).toBe('DENIED');
    expect(bad.statuses.at(-1)).toBe(RM_VM_STATUS.INIT_FAILED);
    expect(bad.rm.parcel(bad.handle)?.acceptedBy.size).toBe(0);
  });

  it('VM_RESET forgets the config image', async () => {
    const { rm, client, guest } = await configured();
    await client.call('VM_INIT', { vmid: guest });
    await client.call('VM_RESET', { vmid: guest });
    await rm.idle();
    expect(rm.vm(guest)?.image).toBeNull();
  });
});
