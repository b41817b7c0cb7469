import { Construct } from 'constructs';
import { NameSchema } from '../../model/schema.js';
import { checkProps } from '../errors.js';
import {
  InfisicalIdentity,
  InfisicalIdentityUniversalAuth,
  InfisicalIdentityUniversalAuthClientSecret,
  InfisicalProjectIdentity,
} from '../providers/infisical.js';

export interface MachineIdentityProps {
  readonly identityName: string;
  readonly orgId: string;
  readonly projectId: string;
  /** Project role slug: viewer, member, admin or no-access. */
  readonly projectRole: string;
  /** Client secret lifetime in days; 0 never expires. */
  readonly clientSecretTtlDays: number;
  /** The hosts that log in as this identity (recorded on the client secret). */
  readonly hosts: readonly string[];
}

/** Organisation role of every machine identity: project membership is what grants access. */
export const ORG_ROLE = 'no-access';

/**
 * An Infisical machine identity with universal auth, one client secret, and membership of the
 * project with the model's role.
 */
export class MachineIdentity extends Construct {
  readonly identity: InfisicalIdentity;
  readonly universalAuth: InfisicalIdentityUniversalAuth;
  readonly clientSecret: InfisicalIdentityUniversalAuthClientSecret;
  readonly membership: InfisicalProjectIdentity;

  constructor(scope: Construct, id: string, props: MachineIdentityProps) {
    super(scope, id);
    checkProps(this, [
      ...(NameSchema.safeParse(props.identityName).success ? [] : [`identity name "${props.identityName}" is not a lower-case name`]),
      ...(['viewer', 'member', 'admin', 'no-access'].includes(props.projectRole)
        ? []
        : [`project role "${props.projectRole}" is not viewer, member, admin or no-access`]),
      ...(Number.isInteger(props.clientSecretTtlDays) && props.clientSecretTtlDays >= 0
        ? []
        : [`client secret TTL ${props.clientSecretTtlDays} is not a whole number of days`]),
      ...(props.hosts.length > 0 ? [] : ['no hosts use this identity']),
    ]);

    this.identity = new InfisicalIdentity(this, 'identity', { name: props.identityName, role: ORG_ROLE, orgId: props.orgId });
    this.universalAuth = new InfisicalIdentityUniversalAuth(this, 'universal-auth', { identity: this.identity });
    this.clientSecret = new InfisicalIdentityUniversalAuthClientSecret(this, 'client-secret', {
      identity: this.identity,
      universalAuth: this.universalAuth,
      description: `used by ${props.hosts.join(', ')}`,
      ttl: props.clientSecretTtlDays * 86_400,
    });
    this.membership = new InfisicalProjectIdentity(this, 'membership', {
      projectId: props.projectId,
      identity: this.identity,
      roles: [props.projectRole],
    });
  }
}
