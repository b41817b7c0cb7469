import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { Platform } from '../../model/schema.js';
import { platformBackend } from '../backend.js';
import { literal } from '../literal.js';
import { MachineIdentity } from '../constructs/machine-identity.js';
import { DataInfisicalProjects, InfisicalProvider } from '../providers/infisical.js';

export interface IdentitiesStackProps {
  readonly platform: Platform;
}

/** The Infisical machine identities hosts log in as, each a member of the project. */
export class IdentitiesStack extends TerraformStack {
  readonly identities: ReadonlyMap<string, MachineIdentity>;

  constructor(scope: Construct, id: string, props: IdentitiesStackProps) {
    super(scope, id);
    const p = props.platform;
    platformBackend(this, p, 'identities');
    new InfisicalProvider(this, 'infisical', { host: literal(p.infisical.siteUrl) });
    const project = new DataInfisicalProjects(this, 'project', { slug: p.infisical.project });

    const identities = new Map<string, MachineIdentity>();
    for (const i of p.infisical.identities) {
      const mi = new MachineIdentity(this, `identity-${i.name}`, {
        identityName: i.name,
        orgId: project.orgId,
        projectId: project.id,
        projectRole: i.role,
        clientSecretTtlDays: i.clientSecretTtlDays,
        hosts: i.hosts,
      });
      identities.set(i.name, mi);
      // The hosts' bootstrap credentials: the id is plain, the secret only ever read with
      // `terraform output -raw` straight into the host's provisioning (never into a file here).
      new TerraformOutput(this, `${i.name}_client_id`, {
        value: mi.clientSecret.clientId,
        description: `universal auth client id of ${i.name}`,
      });
      new TerraformOutput(this, `${i.name}_client_secret`, {
        value: mi.clientSecret.clientSecret,
        sensitive: true,
        description: `universal auth client secret of ${i.name}`,
      });
    }
    this.identities = identities;
  }
}
