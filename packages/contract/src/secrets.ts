import { z } from 'zod';

/*
 * Secrets are named in the model and in the runtime slice, never written there: a secret name is
 * the key Infisical stores the value under and the environment variable the value arrives in.
 */

/** A secret is referenced by its name in Infisical (and the environment), never by value. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const SecretNameSchema = z
  .string()
  .regex(SECRET_NAME, 'the name of an Infisical secret (letters, digits, underscores) such as "ANTHROPIC_API_KEY"');

/*
 * Secret values must never reach the model: fields ending in "Secret" and "secrets" lists hold
 * Infisical secret names. These checks spot a value pasted where a name belongs.
 */

const KNOWN_PREFIXES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^sk-ant-[A-Za-z0-9_-]{10,}/, 'an Anthropic API key'],
  [/^sk-(proj-)?[A-Za-z0-9_-]{16,}/, 'an OpenAI-style API key'],
  [/^gsk_[A-Za-z0-9]{16,}/, 'a Groq API key'],
  [/^AIza[0-9A-Za-z_-]{20,}/, 'a Google API key'],
  [/^(ghp|gho|ghs|ghu)_[A-Za-z0-9]{20,}/, 'a GitHub token'],
  [/^github_pat_[A-Za-z0-9_]{20,}/, 'a GitHub token'],
  [/^glc_[A-Za-z0-9+/=]{20,}/, 'a Grafana Cloud token'],
  [/^glsa_[A-Za-z0-9_]{20,}/, 'a Grafana service account token'],
  [/^xox[abprs]-[A-Za-z0-9-]{10,}/, 'a Slack token'],
  [/^(AKIA|ASIA)[0-9A-Z]{16}$/, 'an AWS access key id'],
  [/^eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, 'a JSON Web Token'],
  [/^https:\/\/(discord|discordapp)\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]+/, 'a Discord webhook URL (its path is the secret)'],
  [/^-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/^st\.[A-Za-z0-9-]+\.[A-Za-z0-9]{20,}/, 'an Infisical service token'],
];

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** What kind of secret a value looks like, or undefined when it looks like ordinary text. */
export function secretKind(value: string): string | undefined {
  for (const [re, kind] of KNOWN_PREFIXES) if (re.test(value)) return kind;
  // A long unbroken run of mixed letters and digits with high entropy reads as a key or token.
  if (
    value.length >= 24 &&
    /^[A-Za-z0-9+/=_-]+$/.test(value) &&
    /[a-z]/.test(value) &&
    /[A-Z]/.test(value) &&
    /\d/.test(value) &&
    entropy(value) > 4
  ) {
    return 'a key or token';
  }
  return undefined;
}

/** Only known token shapes: safe to apply to every string in the file. */
export function knownSecretKind(value: string): string | undefined {
  for (const [re, kind] of KNOWN_PREFIXES) if (re.test(value)) return kind;
  return undefined;
}
