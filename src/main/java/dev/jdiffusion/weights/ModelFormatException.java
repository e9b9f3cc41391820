package dev.jdiffusion.weights;

/**
 * A model file, folder or config is malformed or does not match what the engine expects.
 * The message always names the file (and tensor, where there is one) and what is wrong, in one line.
 */
public class ModelFormatException extends RuntimeException {
    /**
     * An error with its one-line message.
     *
     * @param message the file (and tensor) and what is wrong
     */
    public ModelFormatException(String message) { super(message); }

    /**
     * An error with its one-line message and the error that revealed it.
     *
     * @param message the file (and tensor) and what is wrong
     * @param cause   the underlying error (e.g. an {@link java.io.IOException} or a JSON parse error); may be null
     */
    public ModelFormatException(String message, Throwable cause) { super(message, cause); }

}
