import { TerraformDataSource, TerraformResource, type TerraformMetaArguments } from 'cdktf';
import type { Construct } from 'constructs';
import { compact, INFISICAL, PinnedTerraformProvider, resourceConfig } from './meta.js';

/*
 * Typed binding for the infisical/infisical provider: the resources and the data source the
 * identities and edge stacks use, nothing more. The provider authenticates with universal auth
 * read from INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET.
 */

export interface InfisicalProviderConfig {
  /** Site URL, e.g. https://eu.infisical.com (not a secret: it comes from the model). */
  readonly host: string;
  readonly alias?: string;
}

export class InfisicalProvider extends PinnedTerraformProvider {
  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalProviderConfig,
  ) {
    super(scope, id, INFISICAL, config.alias);
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { host: this.config.host };
  }
}

export interface DataInfisicalProjectsConfig extends TerraformMetaArguments {
  readonly slug: string;
}

/** `data "infisical_projects"`: looks a project up by slug, for its id and organisation id. */
export class DataInfisicalProjects extends TerraformDataSource {
  static readonly tfResourceType = 'infisical_projects';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: DataInfisicalProjectsConfig,
  ) {
    super(scope, id, resourceConfig(DataInfisicalProjects.tfResourceType, INFISICAL, config));
  }

  get id(): string {
    return this.getStringAttribute('id');
  }

  get orgId(): string {
    return this.getStringAttribute('org_id');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { slug: this.config.slug };
  }
}

export interface InfisicalIdentityConfig extends TerraformMetaArguments {
  readonly name: string;
  /** Organisation role: "admin", "member", "no-access" or a custom role slug. */
  readonly role: string;
  readonly orgId: string;
}

export class InfisicalIdentity extends TerraformResource {
  static readonly tfResourceType = 'infisical_identity';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalIdentityConfig,
  ) {
    super(scope, id, resourceConfig(InfisicalIdentity.tfResourceType, INFISICAL, config));
  }

  get id(): string {
    return this.getStringAttribute('id');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { name: this.config.name, role: this.config.role, org_id: this.config.orgId };
  }
}

export interface InfisicalIdentityUniversalAuthConfig extends TerraformMetaArguments {
  readonly identity: InfisicalIdentity;
  /** Access token lifetime in seconds. */
  readonly accessTokenTtl?: number;
  readonly accessTokenMaxTtl?: number;
}

export class InfisicalIdentityUniversalAuth extends TerraformResource {
  static readonly tfResourceType = 'infisical_identity_universal_auth';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalIdentityUniversalAuthConfig,
  ) {
    super(scope, id, resourceConfig(InfisicalIdentityUniversalAuth.tfResourceType, INFISICAL, config));
  }

  get id(): string {
    return this.getStringAttribute('id');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({
      identity_id: this.config.identity.id,
      access_token_ttl: this.config.accessTokenTtl,
      access_token_max_ttl: this.config.accessTokenMaxTtl,
    });
  }
}

export interface InfisicalIdentityUniversalAuthClientSecretConfig extends TerraformMetaArguments {
  /** The universal auth the secret belongs to; the secret is created after it. */
  readonly universalAuth: InfisicalIdentityUniversalAuth;
  readonly identity: InfisicalIdentity;
  readonly description?: string;
  /** Lifetime in seconds; 0 never expires. */
  readonly ttl: number;
}

export class InfisicalIdentityUniversalAuthClientSecret extends TerraformResource {
  static readonly tfResourceType = 'infisical_identity_universal_auth_client_secret';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalIdentityUniversalAuthClientSecretConfig,
  ) {
    super(
      scope,
      id,
      resourceConfig(InfisicalIdentityUniversalAuthClientSecret.tfResourceType, INFISICAL, {
        ...config,
        dependsOn: [config.universalAuth, ...(config.dependsOn ?? [])],
      }),
    );
  }

  get clientId(): string {
    return this.getStringAttribute('client_id');
  }

  /** Sensitive in the provider schema: it lives in state, never in the synthesized config. */
  get clientSecret(): string {
    return this.getStringAttribute('client_secret');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return compact({ identity_id: this.config.identity.id, description: this.config.description, ttl: this.config.ttl });
  }
}

export interface InfisicalProjectIdentityConfig extends TerraformMetaArguments {
  readonly projectId: string;
  readonly identity: InfisicalIdentity;
  /** Project role slugs, e.g. "viewer". */
  readonly roles: readonly string[];
}

export class InfisicalProjectIdentity extends TerraformResource {
  static readonly tfResourceType = 'infisical_project_identity';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalProjectIdentityConfig,
  ) {
    super(scope, id, resourceConfig(InfisicalProjectIdentity.tfResourceType, INFISICAL, config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      project_id: this.config.projectId,
      identity_id: this.config.identity.id,
      roles: this.config.roles.map((r) => ({ role_slug: r })),
    };
  }
}

export interface InfisicalSecretConfig extends TerraformMetaArguments {
  readonly name: string;
  /** A reference to a sensitive attribute of another resource; never a literal. */
  readonly value: string;
  readonly envSlug: string;
  readonly workspaceId: string;
  readonly folderPath: string;
}

export class InfisicalSecret extends TerraformResource {
  static readonly tfResourceType = 'infisical_secret';

  constructor(
    scope: Construct,
    id: string,
    private readonly config: InfisicalSecretConfig,
  ) {
    super(scope, id, resourceConfig(InfisicalSecret.tfResourceType, INFISICAL, config));
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {
      name: this.config.name,
      value: this.config.value,
      env_slug: this.config.envSlug,
      workspace_id: this.config.workspaceId,
      folder_path: this.config.folderPath,
    };
  }
}
