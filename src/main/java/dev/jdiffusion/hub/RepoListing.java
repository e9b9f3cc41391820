package dev.jdiffusion.hub;

import java.util.List;

/**
 * The files of a repository at one revision.
 *
 * @param repo     repository id ({@code owner/name})
 * @param revision what was asked for (branch, tag or commit)
 * @param commit   the commit the revision resolved to, or null when the hub did not say
 * @param files    every file with its size and checksum where known
 */
public record RepoListing(String repo, String revision, String commit, List<HubFile> files) {
    /** The revision to download from: the resolved commit when known, so that all files are consistent. */
    public String pinned() { return commit != null && !commit.isBlank() ? commit : revision; }
}
