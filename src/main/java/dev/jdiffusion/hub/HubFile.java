package dev.jdiffusion.hub;

/**
 * One file of a Hub repository as the API lists it.
 *
 * @param path   path in the repository ({@code unet/config.json}), always relative and with '/' separators
 * @param size   size in bytes, or -1 when the hub did not say
 * @param sha256 hex SHA-256 of the content for LFS files, or null
 * @param blobId hex git blob id (SHA-1 of {@code "blob <size>\0" + content}) for plain git files, or null
 */
public record HubFile(String path, long size, String sha256, String blobId) {
    /** True when the content can be verified after download. */
    public boolean verifiable() { return sha256 != null || (blobId != null && size >= 0); }
}
