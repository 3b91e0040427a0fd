// Test fixtures built from the spec facts (spec/gunyah-vm-devicetree.md §7.1): no kernel binaries
// are committed; every Image here is generated.

/** Fields of a synthetic arm64 Image header. */
export interface HeaderFields {
  code0?: number;
  code1?: number;
  textOffset?: bigint;
  imageSize?: bigint;
  flags?: bigint;
  magic?: number;
  res5?: number;
}

/** A 64-byte arm64 Image header, little-endian, laid out per the spec table. */
export function imageHeader(f: HeaderFields = {}): Uint8Array {
  const out = new Uint8Array(64);
  const v = new DataView(out.buffer);
  v.setUint32(0, f.code0 ?? 0x91005a4d, true); // offset 0: code0
  v.setUint32(4, f.code1 ?? 0x14000000, true); // offset 4: code1
  v.setBigUint64(8, f.textOffset ?? 0n, true); // offset 8: text_offset
  v.setBigUint64(16, f.imageSize ?? 0x10000n, true); // offset 16: image_size
  v.setBigUint64(24, f.flags ?? 0b1010n, true); // offset 24: flags (LE, 4K pages, anywhere)
  // offsets 32..55: res2..res4 = 0
  v.setUint32(56, f.magic ?? 0x644d5241, true); // offset 56: magic "ARM\x64"
  v.setUint32(60, f.res5 ?? 0x40, true); // offset 60: PE header offset
  return out;
}

/** A whole synthetic Image: header + `bodySize` bytes of a seeded pattern. */
export function syntheticImage(bodySize: number, f: HeaderFields = {}, seed = 1): Uint8Array {
  const img = new Uint8Array(64 + bodySize);
  img.set(imageHeader({ imageSize: BigInt(64 + bodySize + 0x4000), ...f }));
  pattern(img.subarray(64), seed);
  return img;
}

/** Fill with a deterministic xorshift pattern. */
export function pattern(buf: Uint8Array, seed = 1): Uint8Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** A minimal flattened devicetree: valid header (big-endian) and an empty root node. */
export function minimalDtb(padTo = 0): Uint8Array {
  // header 40 bytes, reserve map 16 bytes (terminator), struct: BEGIN_NODE "" END_NODE END (16 bytes), strings 0.
  const structOff = 56;
  const structSize = 16;
  const stringsOff = structOff + structSize;
  const total = Math.max(stringsOff, padTo);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xd00dfeed, false); // magic
  v.setUint32(4, total, false); // totalsize
  v.setUint32(8, structOff, false); // off_dt_struct
  v.setUint32(12, stringsOff, false); // off_dt_strings
  v.setUint32(16, 40, false); // off_mem_rsvmap
  v.setUint32(20, 17, false); // version
  v.setUint32(24, 16, false); // last_comp_version
  v.setUint32(28, 0, false); // boot_cpuid_phys
  v.setUint32(32, 0, false); // size_dt_strings
  v.setUint32(36, structSize, false); // size_dt_struct
  v.setUint32(structOff, 1, false); // FDT_BEGIN_NODE
  v.setUint32(structOff + 4, 0, false); // name "" + padding
  v.setUint32(structOff + 8, 2, false); // FDT_END_NODE
  v.setUint32(structOff + 12, 9, false); // FDT_END
  return out;
}
