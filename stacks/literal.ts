import { Token } from 'cdktf';
import { StackError } from './errors.js';

/*
 * Terraform evaluates every string of its JSON syntax as a template: `${...}` is an interpolation
 * and `%{...}` a directive, anywhere in the string. CDKTF writes plain strings through untouched,
 * so text that comes from outside Terraform (dashboard JSON with Grafana's own `${datasource}`,
 * IAM policy variables such as `${aws:username}`, runbooks, alert bodies, any file) would be read
 * as expressions and either fail validation or, worse, interpolate. Every construct that embeds
 * such text passes it through here, and nowhere else is escaping done.
 */

/**
 * CDKTF's marker for a string token (a typed reference such as `bucket.arn`), resolved to
 * `${aws_s3_bucket.x.arn}` at synthesis. It is left alone so references keep working.
 */
const TOKEN_MARKER = /\$\{TfToken\[[\w.:-]+\]\}/g;
/** A template opener. Text already holding `$${` becomes `$$${`, which Terraform decodes back to `$${`. */
const TEMPLATE_OPENER = /([$%])\{/g;

function escapeFragment(text: string): string {
  return text.replace(TEMPLATE_OPENER, (_, c: string) => `${c}${c}{`);
}

/**
 * `text` as a Terraform literal: `${` becomes `$${` and `%{` becomes `%%{`, so Terraform hands the
 * provider exactly `text`. CDKTF tokens inside (references made by this program, e.g. a bucket
 * ARN in a policy document) are not escaped and still resolve to references.
 */
export function literal(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(TOKEN_MARKER)) {
    out += escapeFragment(text.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeFragment(text.slice(last));
}

/**
 * Text read from a file (or any other source outside this program) as a Terraform literal. Such
 * text cannot hold a real CDKTF token, so a token marker in it is refused rather than resolved
 * into a reference the file's author chose.
 */
export function externalLiteral(what: string, text: string): string {
  if (Token.isUnresolved(text)) {
    throw new StackError('STACK_PROPS_INVALID', `${what} contains a CDKTF token marker ("\${TfToken[...]}")`, {
      hint: 'external text must be plain text; regenerate the file with `make render`',
    });
  }
  return literal(text);
}

/** A JSON policy document (IAM, bucket policy) as a Terraform literal; references in it still resolve. */
export function policyDocument(doc: object): string {
  return literal(JSON.stringify(doc));
}
