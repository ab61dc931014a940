export { toOnnx, type ToOnnxOptions } from './toOnnx.js';
