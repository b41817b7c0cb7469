import { describe, expect, it } from 'vitest';
import { publicEndpoints } from '../../model/views.js';
import { remoteStacks, stateKey, STACK_ORDER } from '../../stacks/naming.js';
import { allResources, MODELS, refId, resources, secretFindings, synthFile, type Synthesized, type TfJson } from './helpers.js';

/*
 * Policies that hold for any model: each is checked against the example model and the alt model.
 */

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string>>;
};
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Resources of `type` in `tf` whose `bucket` attribute points at the bucket `id`. */
function attachedTo(tf: TfJson, type: string, bucketId: string): Record<string, unknown>[] {
  return Object.values(resources(tf, type)).filter((r) => refId(String(r.bucket), 'aws_s3_bucket', 'id') === bucketId);
}

/** A policy resource ARN as "bucket" or "bucket/<object pattern>", resolving bucket references. */
function arnTarget(tf: TfJson, arn: string): string {
  const id = refId(arn, 'aws_s3_bucket', 'arn');
  if (id) {
    const name = resources(tf, 'aws_s3_bucket')[id]?.bucket;
    return `${String(name)}${arn.slice(arn.indexOf('}') + 1)}`;
  }
  const m = /^arn:aws:s3:::(.+)$/.exec(arn);
  return m ? m[1]! : `(not an S3 ARN: ${arn})`;
}

for (const [label, file] of Object.entries(MODELS)) {
  describe(`policy (${label} model)`, () => {
    const s: Synthesized = synthFile(file);
    const p = s.platform;
    const modelBuckets = Object.values(p.aws.buckets).map((b) => b.name);
    const buckets = STACK_ORDER.flatMap((stack) =>
      Object.entries(resources(s.json[stack], 'aws_s3_bucket')).map(([id, b]) => ({ stack, id, name: String(b.bucket) })),
    );

    it('creates every model bucket exactly once, and no other', () => {
      expect(buckets.map((b) => b.name).sort()).toEqual([...modelBuckets].sort());
    });

    it('versions, encrypts, blocks public access to and enforces ownership of every bucket', () => {
      for (const b of buckets) {
        const tf = s.json[b.stack];
        expect(
          attachedTo(tf, 'aws_s3_bucket_versioning', b.id).map((v) => v.versioning_configuration),
          b.name,
        ).toEqual([{ status: 'Enabled' }]);
        const sse = attachedTo(tf, 'aws_s3_bucket_server_side_encryption_configuration', b.id);
        expect(sse, b.name).toHaveLength(1);
        const algo = (sse[0]!.rule as { apply_server_side_encryption_by_default: { sse_algorithm: string } }[])[0]!
          .apply_server_side_encryption_by_default.sse_algorithm;
        expect(['AES256', 'aws:kms', 'aws:kms:dsse']).toContain(algo);
        expect(attachedTo(tf, 'aws_s3_bucket_public_access_block', b.id), b.name).toEqual([
          {
            bucket: `\${aws_s3_bucket.${b.id}.id}`,
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
          },
        ]);
        expect(
          attachedTo(tf, 'aws_s3_bucket_ownership_controls', b.id).map((o) => o.rule),
          b.name,
        ).toEqual([{ object_ownership: 'BucketOwnerEnforced' }]);
      }
    });

    it('denies non-TLS requests to every bucket and its objects', () => {
      for (const b of buckets) {
        const policies = attachedTo(s.json[b.stack], 'aws_s3_bucket_policy', b.id);
        expect(policies, b.name).toHaveLength(1);
        const statements = list((JSON.parse(String(policies[0]!.policy)) as { Statement: Statement | Statement[] }).Statement);
        const tlsDeny = statements.find((st) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false');
        expect(tlsDeny, b.name).toBeDefined();
        expect(list(tlsDeny!.Action)).toContain('s3:*');
        expect(tlsDeny!.Principal).toBe('*');
        expect(
          list(tlsDeny!.Resource)
            .map((r) => arnTarget(s.json[b.stack], r))
            .sort(),
        ).toEqual([b.name, `${b.name}/*`]);
      }
    });

    it('expires superseded versions and aborts incomplete uploads on every bucket, per the model', () => {
      const retention = Object.fromEntries(Object.values(p.aws.buckets).map((b) => [b.name, b.retention]));
      for (const b of buckets) {
        const [lc] = attachedTo(s.json[b.stack], 'aws_s3_bucket_lifecycle_configuration', b.id);
        const rule = (lc!.rule as Record<string, { noncurrent_days?: number; days_after_initiation?: number }[]>[])[0]!;
        expect(rule.noncurrent_version_expiration![0]!.noncurrent_days, b.name).toBe(retention[b.name]!.noncurrentDays);
        expect(rule.abort_incomplete_multipart_upload![0]!.days_after_initiation, b.name).toBe(retention[b.name]!.abortMultipartDays);
      }
    });

    it('keeps every stack but bootstrap on the state bucket, encrypted, with use_lockfile', () => {
      const keys = new Set<string>();
      for (const stack of remoteStacks()) {
        expect(s.json[stack].terraform.backend, stack).toEqual({
          s3: { bucket: p.aws.buckets.tfstate.name, key: stateKey(p, stack), region: p.aws.region, encrypt: true, use_lockfile: true },
        });
        keys.add(stateKey(p, stack));
      }
      expect(keys.size).toBe(remoteStacks().length);
      expect(Object.keys(s.json.bootstrap.terraform.backend ?? {})).toEqual(['local']);
    });

    it('gives every public hostname a tunnel ingress rule and a proxied CNAME to the tunnel', () => {
      const edge = s.json.edge;
      const [config] = Object.values(resources(edge, 'cloudflare_zero_trust_tunnel_cloudflared_config'));
      const ingress = (config!.config as { ingress: { hostname?: string; service: string }[] }).ingress;
      expect(ingress.at(-1)).toEqual({ service: 'http_status:404' });
      const records = Object.values(resources(edge, 'cloudflare_dns_record'));
      const endpoints = publicEndpoints(p);
      expect(endpoints.length).toBe(p.cloudflare.hostnames.length);
      for (const e of endpoints) {
        expect(
          ingress.filter((r) => r.hostname === e.hostname),
          e.hostname,
        ).toEqual([{ hostname: e.hostname, service: e.origin }]);
        const rec = records.filter((r) => r.name === e.hostname);
        expect(rec, e.hostname).toHaveLength(1);
        expect(rec[0]).toMatchObject({ type: 'CNAME', proxied: true });
        expect(String(rec[0]!.content)).toMatch(/^\$\{cloudflare_zero_trust_tunnel_cloudflared\.[^.]+\.id\}\.cfargotunnel\.com$/);
      }
      expect(ingress).toHaveLength(endpoints.length + 1);
      expect(records).toHaveLength(endpoints.length);
    });

    it('puts an Access application in front of every protected hostname, and only those', () => {
      const apps = Object.values(resources(s.json.edge, 'cloudflare_zero_trust_access_application'));
      const protectedHosts = p.cloudflare.hostnames.filter((h) => h.access).map((h) => h.hostname);
      expect(apps.map((a) => a.domain).sort()).toEqual([...protectedHosts].sort());
      for (const a of apps) expect((a.policies as unknown[]).length, String(a.domain)).toBeGreaterThan(0);
    });

    it('lets no secret value into the synthesized output', () => {
      expect(STACK_ORDER.flatMap((stack) => secretFindings(s.json[stack], stack))).toEqual([]);
    });

    it('wires every secret-bearing attribute to a reference or a sensitive variable, never a literal', () => {
      const sensitiveAttrs: [string, string][] = [
        ['infisical_secret', 'value'],
        ['grafana_contact_point', 'discord.0.url'],
      ];
      for (const [, type, id, body] of allResources(s)) {
        for (const [t, attr] of sensitiveAttrs) {
          if (t !== type) continue;
          const value = attr.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], body);
          expect(String(value), `${type}.${id}.${attr}`).toMatch(/^\$\{[^}]+\}$/);
        }
      }
    });

    it('grants no s3:* and no bucket outside the model in any IAM policy', () => {
      const allowed = new Set(modelBuckets);
      for (const stack of STACK_ORDER) {
        const tf = s.json[stack];
        for (const pol of Object.values(resources(tf, 'aws_iam_policy'))) {
          const statements = list((JSON.parse(String(pol.policy)) as { Statement: Statement | Statement[] }).Statement);
          for (const st of statements.filter((x) => x.Effect === 'Allow')) {
            for (const action of list(st.Action)) {
              expect(action, String(pol.name)).not.toMatch(/\*/);
              expect(action).toMatch(/^s3:[A-Za-z]+$/);
            }
            for (const r of list(st.Resource)) {
              const target = arnTarget(tf, r);
              const bucket = target.split('/')[0]!;
              expect(allowed.has(bucket), `${String(pol.name)}: ${r}`).toBe(true);
              expect(target).not.toBe('*');
            }
          }
        }
      }
    });
  });
}

describe('the secret scan itself', () => {
  it('finds secrets planted anywhere but in metadata', () => {
    const planted = {
      resource: {
        x: {
          y: {
            value: 'https://discord.com/api/webhooks/123456789/AbCdEfGhIjKlMnOp',
            nested: [{ token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig' }],
          },
        },
      },
      '//': { metadata: { uniqueId: 'artifacts_bucket_A41425E9x7Qz9Lm2' } },
    };
    expect(secretFindings(planted, 'planted')).toEqual([
      'planted:resource.x.y.value: a Discord webhook URL (its path is the secret)',
      'planted:resource.x.y.nested.0.token: a JSON Web Token',
    ]);
  });
});
