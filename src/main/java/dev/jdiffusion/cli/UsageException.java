package dev.jdiffusion.cli;

/** A bad command line: printed as one line plus the command's usage hint, exit code 2. */
public final class UsageException extends RuntimeException {
    private final String usage;

    public UsageException(String message, String usage) {
        super(message);
        this.usage = usage;
    }

    public String usage() { return usage; }
}
