/**
 * Weight files: memory-mapped safetensors (diffusers folders, single-file checkpoints, sharded indexes), key
 * mapping between layouts, and {@link dev.jdiffusion.weights.ModelFormatException}, the error every malformed or
 * missing model file gives. Exported for that exception and the types the API's signatures use.
 */
package dev.jdiffusion.weights;
