package dev.jdiffusion.pipeline;

/**
 * A generation failed part-way for a reason other than a bad request or a bad model file, e.g. the Java heap ran
 * out. The message says what was asked and what to do, in one line; the model stays loaded and usable.
 */
public class GenerationException extends RuntimeException {
    /**
     * An error with its message and the error that caused it.
     *
     * @param message one line: what was asked and what to change
     * @param cause   the error that ended the generation (e.g. an {@link OutOfMemoryError}); may be null
     */

    public GenerationException(String message, Throwable cause) { super(message, cause); }
}
