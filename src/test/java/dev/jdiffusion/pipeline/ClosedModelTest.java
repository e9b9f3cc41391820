package dev.jdiffusion.pipeline;

import dev.jdiffusion.tensor.Tensor;
import dev.jdiffusion.weights.Checkpoint;
import dev.jdiffusion.weights.DType;
import dev.jdiffusion.weights.SafetensorsFile;
import dev.jdiffusion.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** After close(), every public method of a model fails with a clear IllegalStateException; page release never touches a closed mapping. */
class ClosedModelTest {
    /** Calls every public instance method but close (and Object's) with default arguments; returns the names checked. */
    private static List<String> everyMethodFailsClosed(Object o) throws IllegalAccessException {
        List<String> checked = new ArrayList<>();
        for (Method m : o.getClass().getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class || m.getName().equals("close")) continue;
            Object[] args = new Object[m.getParameterCount()];
            Class<?>[] types = m.getParameterTypes();
            for (int i = 0; i < args.length; i++)
                if (types[i].isPrimitive()) args[i] = types[i] == boolean.class ? false : types[i] == long.class ? 0L
                        : types[i] == float.class ? 0f : types[i] == double.class ? 0d : 0;
            try {
                m.invoke(o, args);
                fail(o.getClass().getSimpleName() + "." + m.getName() + " worked after close()");
            } catch (InvocationTargetException e) {
                IllegalStateException ise = assertInstanceOf(IllegalStateException.class, e.getCause(),
                        o.getClass().getSimpleName() + "." + m.getName() + " after close()");
                assertTrue(ise.getMessage().contains("closed"), ise.getMessage());
            }
            checked.add(m.getName());
        }
        return checked;
    }

    @Test
    void everyPublicMethodOfAClosedModelFails() throws Exception {
        StableDiffusion sd = StableDiffusion.load(TinyModels.sd1());
        ModelComponents parts = sd.components();
        sd.close();
        sd.close();   // idempotent
        List<String> a = everyMethodFailsClosed(sd), b = everyMethodFailsClosed(parts);
        System.out.println("closed StableDiffusion: " + a + "\nclosed ModelComponents: " + b);
        assertTrue(a.contains("generate") && b.contains("releaseWeights") && b.contains("unetModuleListener"), a + " " + b);
    }

    @Test
    void releasingPagesOfAClosedMappingFailsAndTouchesNothing(@TempDir Path dir) {
        Path f = dir.resolve("w.safetensors");
        Random r = new Random(3);
        float[] v = new float[64 * 1024];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat();
        SafetensorsWriter.write(f, Map.of("a.w", new Tensor(v, v.length), "b.w", new Tensor(java.util.Arrays.copyOf(v, 256), 256)), DType.F32, Map.of());
        SafetensorsFile file = SafetensorsFile.open(f);
        WeightPages pages = new WeightPages(file);
        if (WeightPages.available()) assertTrue(pages.release("a"), "madvise on a live mapping");
        assertEquals(v[12345], file.get("a.w").getFloat(12345), "the pages come back from the file");
        file.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pages.release("a"));
        assertTrue(!WeightPages.available() || e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void aCheckpointsComponentsCloseWithIt() {
        Checkpoint c = Checkpoint.open(TinyModels.sd1());
        WeightPages pages = new WeightPages(c.tensors(Checkpoint.UNET));
        c.close();
        if (WeightPages.available()) assertThrows(IllegalStateException.class, pages::releaseAll);
    }
}
