package dev.jdiffusion.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigFieldsTest {
    private static JsonNode json(String s) throws Exception { return new ObjectMapper().readTree(s); }

    @Test void integersAreReadExactlyAndDefaultsApply() throws Exception {
        JsonNode c = json("{\"a\": 64, \"b\": 64.0, \"n\": null}");
        assertEquals(64, ConfigFields.optionalInt(c, "a", 0, "cfg"));
        assertEquals(64, ConfigFields.optionalInt(c, "b", 0, "cfg"));
        assertEquals(7, ConfigFields.optionalInt(c, "n", 7, "cfg"));
        assertEquals(7, ConfigFields.optionalInt(c, "missing", 7, "cfg"));
        assertEquals(64, ConfigFields.requiredInt(c, "a", "cfg"));
    }

    @Test void truncatingValuesAreRefusedWithTheField() throws Exception {
        JsonNode c = json("{\"frac\": 3.7, \"str\": \"64\", \"big\": 4294967360, \"neg\": -3000000000, \"t\": true, \"n\": null}");
        for (String f : new String[]{"frac", "str", "big", "neg", "t"}) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ConfigFields.optionalInt(c, f, 0, "unet/config.json"));
            assertTrue(e.getMessage().startsWith("unet/config.json: config field " + f + " must be an integer"), e.getMessage());
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ConfigFields.requiredInt(c, "n", "cfg"));
        assertTrue(e.getMessage().contains("n is missing"), e.getMessage());
    }
}
