package dev.jdiffusion.weights;

/**
 * A model file, folder or config is malformed or does not match what the engine expects.
 * The message always names the file (and tensor, where there is one) and what is wrong, in one line.
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) { super(message); }
    public ModelFormatException(String message, Throwable cause) { super(message, cause); }
}
