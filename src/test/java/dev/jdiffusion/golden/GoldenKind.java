package dev.jdiffusion.golden;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

/** Runs one golden case of a given kind: reads inputs from the case folder, computes, compares every element. */
@FunctionalInterface
public interface GoldenKind {
    void run(Path caseDir, JsonNode info) throws Exception;
}
