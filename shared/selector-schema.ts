import { z } from 'zod';
import { errorMessage } from './errors.js';
import { parseSelector } from './selector.js';

/** A selector as it crosses a boundary: a string, parsed once. */
export const SelectorSchema = z.string().transform((source, ctx) => {
  try {
    return parseSelector(source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    return z.NEVER;
  }
});
