import { z } from 'zod';

/**
 * Device and cluster ids become MQTT topic levels, so they may not contain `/`, `+`, `#` or start with `$`
 * ([MQTT-4.7.1] wildcards, [MQTT-4.7.2] `$` topics are reserved for the broker).
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const DeviceId = z
  .string()
  .regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');
export type DeviceId = z.infer<typeof DeviceId>;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
