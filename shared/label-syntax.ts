/**
 * Device labels: key=value pairs with the syntax and limits of Kubernetes labels
 * (kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
 * A key is an optional DNS-subdomain prefix and `/`, then a name; values may be empty. No zod here: the dashboard
 * bundles this (and shared/selector.ts); shared/labels.ts adds the schemas and label changes.
 */

/** k8s: a name or value segment is at most 63 characters, alphanumeric at both ends, `-_.` inside. */
const SEGMENT = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
/** k8s: the prefix is a DNS subdomain, at most 253 characters of lowercase labels joined by dots. */
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export const LABEL_LIMITS = { nameMax: 63, prefixMax: 253, valueMax: 63, perDevice: 64 } as const;

/** Selector fields that are not labels (shared/selector.ts); a label may not shadow them. */
export const BUILTIN_FIELDS = ['cluster', 'arch', 'target', 'agentVersion', 'id'] as const;
export type BuiltinField = (typeof BUILTIN_FIELDS)[number];

export function isBuiltinField(key: string): key is BuiltinField {
  return (BUILTIN_FIELDS as readonly string[]).includes(key);
}

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > LABEL_LIMITS.prefixMax || !DNS_SUBDOMAIN.test(prefix)) {
      return `label key "${key}": the prefix must be a DNS subdomain (lowercase a-z 0-9 - . , at most ${LABEL_LIMITS.prefixMax} characters)`;
    }
  }
  if (name.length === 0 || name.length > LABEL_LIMITS.nameMax || !SEGMENT.test(name)) {
    return `label key "${key}": the name must be 1-${LABEL_LIMITS.nameMax} characters of A-Z a-z 0-9 - _ . , alphanumeric at both ends`;
  }
  if (prefix === undefined && isBuiltinField(name)) return `label key "${key}" is reserved: it is a built-in selector field`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(key: string, value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > LABEL_LIMITS.valueMax || !SEGMENT.test(value)) {
    return `label "${key}": the value "${value.slice(0, 80)}" must be at most ${LABEL_LIMITS.valueMax} characters of A-Z a-z 0-9 - _ . , alphanumeric at both ends (or empty)`;
  }
  return undefined;
}

/** A device's labels. Null prototype: keys come from the wire and must never meet Object.prototype. */
export type Labels = Readonly<Record<string, string>>;


export function labelValue(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}
