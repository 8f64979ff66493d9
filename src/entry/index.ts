/**
 * The Function Compute bundle (`dist/index.mjs`): one module, two handlers — the timer's refresh
 * (`index.handler`) and the admission webhook behind the HTTP trigger (`index.webhook`).
 */
export { handler } from './fc.js';
export { webhook } from './webhook.js';
