import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/*
 * Which addresses the fetch tool may connect to. Deny by default: an address passes only when
 * ipaddr.js classifies it as plain unicast AND it is in none of the explicit blocks below. IPv6
 * forms that carry an IPv4 address (mapped, translated, NAT64) are judged by the IPv4 address
 * they carry; 6to4, Teredo and the deprecated IPv4-compatible form are refused outright, since
 * they tunnel to an IPv4 address a router, not this check, would pick.
 */

const V4_BLOCKS: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT (tailnet)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6_BLOCKS: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'local-use NAT64'],
  ['100::', 64, 'discard-only'],
  ['2001::', 23, 'IETF protocol assignments'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique local (ULA, cloud metadata on some providers)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local (deprecated)'],
  ['ff00::', 8, 'multicast'],
];

const blocks = new BlockList();
const reasons: { cidr: BlockList; reason: string }[] = [];
for (const [net, prefix, reason] of V4_BLOCKS) {
  blocks.addSubnet(net, prefix, 'ipv4');
  const one = new BlockList();
  one.addSubnet(net, prefix, 'ipv4');
  reasons.push({ cidr: one, reason });
}
for (const [net, prefix, reason] of V6_BLOCKS) {
  blocks.addSubnet(net, prefix, 'ipv6');
  const one = new BlockList();
  one.addSubnet(net, prefix, 'ipv6');
  reasons.push({ cidr: one, reason });
}

function blockReason(addr: string, family: 'ipv4' | 'ipv6'): string | undefined {
  if (!blocks.check(addr, family)) return undefined;
  return reasons.find((r) => r.cidr.check(addr, family))?.reason ?? 'a blocked range';
}

/** The IPv4 address an IPv6 address carries, for the forms that carry one. */
function embeddedV4(v6: ipaddr.IPv6): { v4: ipaddr.IPv4; form: string } | undefined {
  const range = v6.range();
  const parts = v6.parts;
  const tail = (): ipaddr.IPv4 => new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
  if (range === 'ipv4Mapped') return { v4: v6.toIPv4Address(), form: 'IPv4-mapped' };
  if (range === 'rfc6145') return { v4: tail(), form: 'IPv4-translated' };
  if (range === 'rfc6052') return { v4: tail(), form: 'NAT64 (64:ff9b::/96)' };
  return undefined;
}

/**
 * Why an IP address must not be fetched, or undefined when it may be. Accepts only canonical
 * dotted-quad IPv4 and IPv6 text (what DNS answers and the WHATWG URL parser produce); any other
 * text is refused, so "0x7f000001" or "2130706433" can never slip through as "not an address".
 */
export function forbiddenAddressReason(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(bare);
  if (family === 0) return `"${address}" is not an IP address`;
  if (family === 4) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(bare)) return `"${address}" is not a dotted-quad IPv4 address`;
    const r = blockReason(bare, 'ipv4');
    if (r) return `${bare} is ${r}`;
    const range = ipaddr.IPv4.parse(bare).range();
    return range === 'unicast' ? undefined : `${bare} is in the ${range} range`;
  }
  if (bare.includes('%')) return `${bare} carries a zone index (link-local scope)`;
  // ipaddr.js reads a trailing dotted quad as IPv4-mapped even in "::a.b.c.d"; the WHATWG URL
  // serialisation (all hex) is what the connection would use, so judge that.
  const v6 = ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1));
  // ::a.b.c.d (IPv4-compatible, deprecated): the first 96 bits are zero.
  if (v6.parts.slice(0, 6).every((p) => p === 0)) {
    return v6.parts[6] === 0 && v6.parts[7]! <= 1
      ? `${bare} is ${v6.parts[7] === 1 ? 'loopback' : 'unspecified'}`
      : `${bare} is IPv4-compatible IPv6 (deprecated)`;
  }
  const inner = embeddedV4(v6);
  if (inner) {
    const why = forbiddenAddressReason(inner.v4.toString());
    return why === undefined ? undefined : `${bare} is ${inner.form} for ${inner.v4.toString()}, which ${why.replace(/^\S+ is /, 'is ')}`;
  }
  const r = blockReason(v6.toNormalizedString(), 'ipv6');
  if (r) return `${bare} is ${r}`;
  const range = v6.range();
  return range === 'unicast' ? undefined : `${bare} is in the ${range} range`;
}
