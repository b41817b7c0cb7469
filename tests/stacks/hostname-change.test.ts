import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STACK_ORDER } from '../../stacks/naming.js';
import { MODELS, parse, synthPlatform, type Synthesized } from './helpers.js';

/** Every top-level block of every stack as "stack block type.id" -> JSON text. */
function flatten(s: Synthesized): Map<string, string> {
  const out = new Map<string, string>();
  for (const stack of STACK_ORDER) {
    const tf = s.json[stack] as unknown as Record<string, unknown>;
    for (const [block, body] of Object.entries(tf)) {
      if (block === 'resource' || block === 'data') {
        for (const [type, byId] of Object.entries(body as Record<string, Record<string, unknown>>)) {
          for (const [id, r] of Object.entries(byId)) out.set(`${stack} ${block} ${type}.${id}`, JSON.stringify(r));
        }
      } else {
        out.set(`${stack} ${block}`, JSON.stringify(body));
      }
    }
  }
  return out;
}

function diff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

describe('renaming one public hostname', () => {
  const text = readFileSync(MODELS.example, 'utf8');
  const before = synthPlatform(parse(text));
  const after = synthPlatform(parse(text.replace('hostname: control.davidcockson.com', 'hostname: console.davidcockson.com')));

  it('changes the tunnel ingress, that DNS record and that Access app, in place, and nothing else', () => {
    const changed = diff(flatten(before), flatten(after));
    expect(changed).toEqual([
      expect.stringMatching(/^edge resource cloudflare_dns_record\.tunnel_dns-web_[A-F0-9]+$/),
      expect.stringMatching(/^edge resource cloudflare_zero_trust_access_application\.access-web_application_[A-F0-9]+$/),
      expect.stringMatching(/^edge resource cloudflare_zero_trust_tunnel_cloudflared_config\.tunnel_ingress_[A-F0-9]+$/),
    ]);
  });

  it('carries the new name in all three', () => {
    const edge = after.json.edge.resource!;
    const rec = Object.values(edge.cloudflare_dns_record!).map((r) => r.name);
    expect(rec).toContain('console.davidcockson.com');
    expect(rec).not.toContain('control.davidcockson.com');
    expect(Object.values(edge.cloudflare_zero_trust_access_application!).map((a) => a.domain)).toContain('console.davidcockson.com');
    const ingress = (
      Object.values(edge.cloudflare_zero_trust_tunnel_cloudflared_config!)[0]!.config as { ingress: { hostname?: string }[] }
    ).ingress;
    expect(ingress[0]!.hostname).toBe('console.davidcockson.com');
  });
});
