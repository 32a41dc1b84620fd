import type { SchemaError, Validator } from '../generated/validators';
import { isSurelyValidState } from './state-quick-check';

/**
 * The ajv validators, generated as plain code at build time (scripts/build.js), so that no
 * schema is compiled while a user waits. Loaded on first use.
 */
let loaded: { validateConfig: Validator; validateState: Validator } | undefined;

export function validators(): { validateConfig: Validator; validateState: Validator } {
  loaded ??= require('../generated/validators') as { validateConfig: Validator; validateState: Validator };
  return loaded;
}

export function validateConfigShape(data: unknown): SchemaError[] {
  const validate = validators().validateConfig;
  return validate(data) ? [] : [...(validate.errors ?? [])];
}

export function validateStateShape(data: unknown): SchemaError[] {
  if (isSurelyValidState(data)) return [];
  const validate = validators().validateState;
  return validate(data) ? [] : [...(validate.errors ?? [])];
}
