import {
  TerraformProvider,
  type TerraformMetaArguments,
  type TerraformProviderGeneratorMetadata,
  type TerraformResourceConfig,
} from 'cdktf';
import type { Construct } from 'constructs';

/*
 * Shared plumbing for the hand-written bindings: the pinned provider versions, and the meta
 * arguments (provider, depends_on, lifecycle, ...) every resource passes through unchanged.
 */

export interface PinnedProvider extends TerraformProviderGeneratorMetadata {
  readonly providerName: string;
  /** Registry address, e.g. "infisical/infisical". */
  readonly source: string;
  /** The version constraint written to required_providers. */
  readonly providerVersionConstraint: string;
}

export const CONTABO: PinnedProvider = { providerName: 'contabo', source: 'contabo/contabo', providerVersionConstraint: '~> 0.1.31' };
export const INFISICAL: PinnedProvider = {
  providerName: 'infisical',
  source: 'infisical/infisical',
  providerVersionConstraint: '~> 0.15.47',
};
export const GRAFANA: PinnedProvider = { providerName: 'grafana', source: 'grafana/grafana', providerVersionConstraint: '~> 4.10' };

export function resourceConfig(type: string, pinned: PinnedProvider, meta: TerraformMetaArguments): TerraformResourceConfig {
  return {
    terraformResourceType: type,
    terraformGeneratorMetadata: { providerName: pinned.providerName, providerVersionConstraint: pinned.providerVersionConstraint },
    provider: meta.provider,
    dependsOn: meta.dependsOn,
    count: meta.count,
    lifecycle: meta.lifecycle,
    forEach: meta.forEach,
  };
}

/** Drops undefined entries so the synthesized JSON only carries what was set. */
export function compact<T extends Record<string, unknown>>(attrs: T): T {
  return Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Base of the hand-written providers: registers the pinned source and version, and keeps the
 * alias (cdktf's TerraformProvider leaves its storage to the subclass).
 */
export abstract class PinnedTerraformProvider extends TerraformProvider {
  private _alias?: string;

  protected constructor(scope: Construct, id: string, pinned: PinnedProvider, alias?: string) {
    super(scope, id, {
      terraformResourceType: pinned.providerName,
      terraformGeneratorMetadata: { providerName: pinned.providerName, providerVersionConstraint: pinned.providerVersionConstraint },
      terraformProviderSource: pinned.source,
    });
    this._alias = alias;
  }

  override get alias(): string | undefined {
    return this._alias;
  }

  override set alias(value: string | undefined) {
    this._alias = value;
  }
}
