/**
 * The SDCN task API dialect (seed 001). Skeleton: filled in by the SDCN work.
 */
import type { Dialect } from './dialects.js';
import { JobInputError } from './errors.js';

/** SDCN's `/txt2img`, `/img2img`, `/interrogate`. */
export const sdcnDialect: Dialect = {
  name: 'SDCN',
  endpoints: ['/txt2img', '/img2img', '/interrogate'],
  translate(endpoint) {
    return Promise.reject(new JobInputError(`${endpoint}: not available yet`));
  },
};
