package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reading integer fields of model configs strictly: a value that is not an integral number within int range is a
 * {@link ModelFormatException} naming the config and the field, never a silently truncated or rounded number.
 */
public final class ConfigFields {
    private ConfigFields() {}

    /**
     * Reads an optional integer field.
     *
     * @param config the config object
     * @param field the field name
     * @param def the value returned when the field is absent or JSON null
     * @param where the config's name (usually its file), for error messages
     * @return the field's value, or {@code def}
     * @throws ModelFormatException when the field is present but not an integral number within int range
     */
    public static int optionalInt(JsonNode config, String field, int def, String where) {
        JsonNode v = config.get(field);
        if (v == null || v.isNull()) return def;
        return toInt(v, field, where);
    }

    /**
     * Reads a required integer field.
     *
     * @param config the config object
     * @param field the field name
     * @param where the config's name (usually its file), for error messages
     * @return the field's value
     * @throws ModelFormatException when the field is absent, JSON null, or not an integral number within int range
     */
    public static int requiredInt(JsonNode config, String field, String where) {
        JsonNode v = config.get(field);
        if (v == null || v.isNull()) throw new ModelFormatException(where + ": config field " + field + " is missing");
        return toInt(v, field, where);
    }

    /**
     * A JSON value as an int: it must be an integral number that fits (e.g. 64 or 64.0, not 3.7, "64" or 2^32).
     *
     * @param v the value (not null)
     * @param field the field's name, for error messages
     * @param where the config's name (usually its file), for error messages
     * @return the value as an int
     * @throws ModelFormatException when the value is not an integral number within int range
     */
    public static int toInt(JsonNode v, String field, String where) {
        boolean integral = v.isIntegralNumber() || (v.isFloatingPointNumber() && v.asDouble() == Math.rint(v.asDouble()));
        if (!integral || !v.canConvertToInt() || v.asDouble() != (int) v.asDouble())
            throw new ModelFormatException(where + ": config field " + field + " must be an integer, got " + v);
        return v.asInt();
    }
}
