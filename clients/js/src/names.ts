// Names (wire/PROTOCOL.md, Names, service groups and presence): a
// connection claims a name, and a direct message to "@name" goes to one of
// the name's holders.

import { BadRequestError } from './errors.js';

/** What starts a target that addresses a name rather than a connection. */
export const NAME_PREFIX = '@';

/** The longest name, in bytes. */
export const MAX_NAME_LENGTH = 128;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Whether name may be claimed: 1 to 128 bytes of letters, digits and . _ - : /, starting with a letter or a digit. */
export function validName(name: unknown): name is string {
  return typeof name === 'string' && namePattern.test(name);
}

/** Whether target addresses a name ("@name") rather than a connection. */
export function isName(target: string): boolean {
  return target.charCodeAt(0) === 0x40; // "@"
}

/** Throws BadRequestError when name is not a valid name. */
export function checkName(name: unknown): asserts name is string {
  if (validName(name)) return;
  const hint = typeof name === 'string' && isName(name) ? ' (the "@" only addresses a name in call() and send())' : '';
  throw new BadRequestError(
    `${typeof name === 'string' ? JSON.stringify(name) : String(name)} is not a name: 1 to ${MAX_NAME_LENGTH} letters, digits or . _ - : /, starting with a letter or a digit${hint}`
  );
}

/** Throws BadRequestError when target starts with "@" but what follows is not a valid name. */
export function checkTarget(target: string): void {
  if (isName(target)) checkName(target.slice(NAME_PREFIX.length));
}
