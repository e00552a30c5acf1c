export { type Bind, Box, type BoxOptions, type ExecOptions, type ExecResult } from "./box.js";
export { leftovers, sweepLeakedBoxes } from "./cleanup.js";
export { ensureImage, imageRecipe } from "./image.js";
export { bootBox, noBoxes, withBox, withBoxes } from "./tap.js";
export { type BoxUsage, boxUsage } from "./usage.js";
