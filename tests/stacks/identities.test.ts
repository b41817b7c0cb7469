import { describe, expect, it } from 'vitest';
import {
  InfisicalIdentity,
  InfisicalIdentityUniversalAuth,
  InfisicalIdentityUniversalAuthClientSecret,
  InfisicalProjectIdentity,
} from '../../stacks/providers/infisical.js';
import { MODELS, resources, resourceList, synthFile } from './helpers.js';

describe('identities stack', () => {
  const s = synthFile(MODELS.example);
  const tf = s.json.identities;

  it('looks the project up by the model slug', () => {
    expect(tf.data?.infisical_projects).toEqual({ project: { slug: 'homelab-rebuild' } });
    expect(tf.provider).toEqual({ infisical: [{ host: 'https://eu.infisical.com' }] });
  });

  it('makes one machine identity per model identity, with no organisation access', () => {
    expect(resourceList(tf, InfisicalIdentity.tfResourceType)).toEqual([
      { name: 'contabo-prod', role: 'no-access', org_id: '${data.infisical_projects.project.org_id}' },
      { name: 'homelab-prod', role: 'no-access', org_id: '${data.infisical_projects.project.org_id}' },
    ]);
  });

  it('gives each universal auth and a client secret created after it', () => {
    const ids = Object.keys(resources(tf, InfisicalIdentity.tfResourceType));
    const auths = resources(tf, InfisicalIdentityUniversalAuth.tfResourceType);
    expect(Object.values(auths).map((a) => a.identity_id)).toEqual(ids.map((id) => `\${infisical_identity.${id}.id}`));
    const secrets = resourceList(tf, InfisicalIdentityUniversalAuthClientSecret.tfResourceType);
    expect(secrets.map((x) => x.ttl)).toEqual([0, 0]);
    expect(secrets[1]!.description).toBe('used by prod-services, dev-learning, davas');
    for (const [i, x] of secrets.entries()) expect(x.depends_on).toEqual([`infisical_identity_universal_auth.${Object.keys(auths)[i]}`]);
  });

  it('adds each to the project with the model role', () => {
    expect(resourceList(tf, InfisicalProjectIdentity.tfResourceType).map((m) => [m.project_id, m.roles])).toEqual([
      ['${data.infisical_projects.project.id}', [{ role_slug: 'viewer' }]],
      ['${data.infisical_projects.project.id}', [{ role_slug: 'viewer' }]],
    ]);
  });

  it('outputs client secrets only as sensitive outputs', () => {
    const outputs = tf.output ?? {};
    for (const [name, o] of Object.entries(outputs)) {
      if (name.endsWith('_client_secret')) expect(o.sensitive).toBe(true);
      else expect(o.sensitive).toBeUndefined();
    }
    expect(Object.keys(outputs).sort()).toEqual([
      'contabo-prod_client_id',
      'contabo-prod_client_secret',
      'homelab-prod_client_id',
      'homelab-prod_client_secret',
    ]);
  });

  it('follows the alt model: roles and secret lifetimes', () => {
    const alt = synthFile(MODELS.alt).json.identities;
    // Testing.synth orders resources by logical id: "back" before "front".
    expect(resourceList(alt, InfisicalProjectIdentity.tfResourceType).map((m) => [m.identity_id, m.roles])).toEqual([
      [expect.stringContaining('identity-back'), [{ role_slug: 'viewer' }]],
      [expect.stringContaining('identity-front'), [{ role_slug: 'member' }]],
    ]);
    expect(resourceList(alt, InfisicalIdentityUniversalAuthClientSecret.tfResourceType).map((x) => [x.description, x.ttl])).toEqual([
      ['used by gpu-box', 90 * 86400],
      ['used by front-1, front-2', 0],
    ]);
    expect(alt.provider).toEqual({ infisical: [{ host: 'https://secrets.acme.dev' }] });
  });
});
