import { isBuiltinField, labelKeyProblem, labelValue, labelValueProblem, type BuiltinField, type Labels } from './label-syntax.js';

/**
 * Device selectors in Kubernetes label-selector syntax: `site=paris,tier!=lab,arch in (arm64,arm),!canary-exempt`.
 * Requirements are joined by `,` and all must hold. Besides labels, the built-in fields `cluster` (a cluster path;
 * `root/eu/**` is that cluster and everything below it), `arch`, `target`, `agentVersion` and `id` can be used.
 * `parseSelector` is the one door: the typed value it returns is trusted by `matches`. No zod here (the dashboard
 * bundles this); shared/selector-schema.ts is the schema for boundaries.
 */

/** A selector that does not parse; the message names the column. (Not shared/errors.ts: that module loads zod.) */
export class SelectorError extends Error {
  override name = 'SelectorError';
}

export type Operator = 'in' | 'notin' | 'exists' | 'notexists';

export interface Requirement {
  key: string;
  /** `=`/`==` parse as `in` with one value, `!=` as `notin`. */
  operator: Operator;
  values: string[];
}

export interface Selector {
  /** The text it was parsed from, as the operator wrote it. */
  source: string;
  requirements: Requirement[];
}

/** What a selector is evaluated against: a device as its coordinator knows it. */
export interface SelectorSubject {
  id: string;
  cluster: string;
  arch: string | null;
  target: string | null;
  agentVersion: string | null;
  labels: Labels;
}

export const SELECTOR_LIMITS = { length: 2048, requirements: 32, values: 64 } as const;

const CLUSTER_PATH = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63})*(\/\*\*)?$/;
const DEVICE_PATH = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63})*$/;
const BUILTIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

type Token = { kind: 'word' | '!' | '=' | '!=' | '(' | ')' | ','; text: string; at: number };

const WORD = /[A-Za-z0-9_.\-/*+]/;

function tokenize(source: string, fail: (at: number, message: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '!' && source[i + 1] === '=') {
      tokens.push({ kind: '!=', text: '!=', at: i });
      i += 2;
    } else if (c === '=') {
      // `==` means the same as `=`.
      const double = source[i + 1] === '=';
      tokens.push({ kind: '=', text: double ? '==' : '=', at: i });
      i += double ? 2 : 1;
    } else if (c === '!' || c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c, at: i });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < source.length && WORD.test(source[i])) i++;
      tokens.push({ kind: 'word', text: source.slice(start, i), at: start });
    } else {
      fail(i, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  return tokens;
}

/** Parses a selector; a SelectorError names the column (1-based) and what was expected there. */
export function parseSelector(source: string): Selector {
  const fail = (at: number, message: string): never => {
    throw new SelectorError(`selector ${JSON.stringify(source.length > 120 ? source.slice(0, 120) + '…' : source)}: column ${at + 1}: ${message}`);
  };
  if (source.length > SELECTOR_LIMITS.length) fail(SELECTOR_LIMITS.length, `longer than ${SELECTOR_LIMITS.length} characters`);
  if (source.trim() === '') fail(0, 'empty selector (to select every device, use cluster=<root>/**)');
  const tokens = tokenize(source, fail);
  let pos = 0;
  const end = source.length;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const expect = (kind: Token['kind'], what: string): Token => {
    const t = peek();
    if (!t || t.kind !== kind) fail(t?.at ?? end, `expected ${what}${t ? `, got ${JSON.stringify(t.text)}` : ''}`);
    return next();
  };
  const keyAt = (t: Token): string => {
    if (!isBuiltinField(t.text)) {
      const problem = labelKeyProblem(t.text);
      if (problem) fail(t.at, problem);
    }
    return t.text;
  };
  const valueAt = (key: string, t: Token): string => {
    const problem = valueProblem(key, t.text);
    if (problem) fail(t.at, problem);
    return t.text;
  };

  const requirements: Requirement[] = [];
  for (;;) {
    if (requirements.length === SELECTOR_LIMITS.requirements) fail(peek()?.at ?? end, `more than ${SELECTOR_LIMITS.requirements} requirements`);
    const first = peek();
    if (!first || first.kind === ',') fail(first?.at ?? end, 'expected a requirement (KEY, !KEY, KEY=VALUE, KEY!=VALUE, KEY in (...), KEY notin (...))');
    if (first.kind === '!') {
      next();
      requirements.push({ key: keyAt(expect('word', 'a key after "!"')), operator: 'notexists', values: [] });
    } else {
      const key = keyAt(expect('word', 'a key'));
      const op = peek();
      if (!op || op.kind === ',') {
        requirements.push({ key, operator: 'exists', values: [] });
      } else if (op.kind === '=' || op.kind === '!=') {
        next();
        // k8s: `key=` (nothing after it) selects the empty value.
        const v = peek();
        const value = v?.kind === 'word' ? valueAt(key, next()) : valueAt(key, { kind: 'word', text: '', at: op.at + op.text.length });
        requirements.push({ key, operator: op.kind === '=' ? 'in' : 'notin', values: [value] });
      } else if (op.kind === 'word' && (op.text === 'in' || op.text === 'notin')) {
        next();
        expect('(', `"(" after "${op.text}"`);
        const values: string[] = [];
        for (;;) {
          if (values.length === SELECTOR_LIMITS.values) fail(peek()?.at ?? end, `more than ${SELECTOR_LIMITS.values} values in one set`);
          values.push(valueAt(key, expect('word', 'a value')));
          const sep = peek();
          if (sep?.kind === ',') next();
          else if (sep?.kind === ')') break;
          else fail(sep?.at ?? end, `expected "," or ")" in the values of "${key}"`);
        }
        next();
        requirements.push({ key, operator: op.text, values: [...new Set(values)] });
      } else {
        fail(op.at, `expected "=", "!=", "in" or "notin" after "${key}", got ${JSON.stringify(op.text)}`);
      }
    }
    const sep = peek();
    if (!sep) break;
    if (sep.kind !== ',') fail(sep.at, `expected "," between requirements, got ${JSON.stringify(sep.text)}`);
    next();
  }
  return { source, requirements };
}

function valueProblem(key: string, value: string): string | undefined {
  if (!isBuiltinField(key)) return labelValueProblem(key, value);
  const [pattern, what]: [RegExp, string] =
    key === 'cluster' ? [CLUSTER_PATH, 'a cluster path (root/eu, or root/eu/** for the subtree)'] : key === 'id' ? [DEVICE_PATH, 'a device id'] : [BUILTIN_VALUE, `a value of ${key}`];
  return pattern.test(value) ? undefined : `"${value}" is not ${what}`;
}

function fieldValue(subject: SelectorSubject, key: string): string | undefined {
  if (!isBuiltinField(key)) return labelValue(subject.labels, key);
  const builtin: Record<BuiltinField, string | null> = { cluster: subject.cluster, arch: subject.arch, target: subject.target, agentVersion: subject.agentVersion, id: subject.id };
  return builtin[key] ?? undefined;
}

function valueMatches(key: string, actual: string, wanted: string): boolean {
  if (key === 'cluster' && wanted.endsWith('/**')) {
    const base = wanted.slice(0, -3);
    return actual === base || actual.startsWith(base + '/');
  }
  return actual === wanted;
}

/** k8s semantics: `!=` and `notin` also select devices without the key. */
export function matches(selector: Selector, subject: SelectorSubject): boolean {
  return selector.requirements.every(({ key, operator, values }) => {
    const actual = fieldValue(subject, key);
    switch (operator) {
      case 'exists':
        return actual !== undefined;
      case 'notexists':
        return actual === undefined;
      case 'in':
        return actual !== undefined && values.some((v) => valueMatches(key, actual, v));
      case 'notin':
        return actual === undefined || !values.some((v) => valueMatches(key, actual, v));
    }
  });
}
