/**
 * The OpenAI-style images API dialect (seeds 002 and 003). Skeleton: filled in by the OpenAI work.
 */
import type { Dialect } from './dialects.js';
import { JobInputError } from './errors.js';

/** `/v1/images/generations` (txt2img) and `/v1/images/edits` (img2img). */
export const openaiDialect: Dialect = {
  name: 'OpenAI images',
  endpoints: ['/v1/images/generations', '/v1/images/edits'],
  translate(endpoint) {
    return Promise.reject(new JobInputError(`${endpoint}: not available yet`));
  },
};
