package dev.jdiffusion.hub;

/** A download from the Hub failed: the message is one line saying which file or request and what went wrong. */
public class HubException extends RuntimeException {
    public HubException(String message) { super(message); }
    public HubException(String message, Throwable cause) { super(message, cause); }
}
