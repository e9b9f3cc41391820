package dev.jdiffusion.cli;

import dev.jdiffusion.image.Canny;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.pipeline.Inpainting;
import dev.jdiffusion.pipeline.StableDiffusion;
import dev.jdiffusion.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/** The generate command's inpainting and ControlNet options: parsing, reading the images, the notes it prints. */
final class Inpaint {
    private Inpaint() {}

    /** One {@code --control MODEL:IMAGE[:SCALE[:START:END]]}. */
    record ControlSpec(Path model, Path image, float scale, float start, float end) {}

    static ControlSpec controlSpec(String spec, String usage) {
        String[] p = spec.split(":");
        if (p.length != 2 && p.length != 3 && p.length != 5)
            throw new UsageException("--control takes MODEL:IMAGE[:SCALE[:START:END]], got '" + spec + "'", usage);
        try {
            float scale = p.length > 2 ? Float.parseFloat(p[2]) : 1f, start = p.length > 3 ? Float.parseFloat(p[3]) : 0f,
                    end = p.length > 3 ? Float.parseFloat(p[4]) : 1f;
            if (!(scale >= 0f && scale <= 10f)) throw new UsageException("--control scale must be between 0 and 10, got " + p[2], usage);
            if (!(start >= 0f && end <= 1f && start < end))
                throw new UsageException("--control START:END must satisfy 0 <= START < END <= 1, got " + p[3] + ":" + p[4], usage);
            Path model = Path.of(p[0]), image = Path.of(p[1]);
            if (!java.nio.file.Files.exists(model)) throw new UsageException("--control: no such ControlNet: " + model, usage);
            return new ControlSpec(model, image, scale, start, end);
        } catch (NumberFormatException e) {
            throw new UsageException("--control: SCALE, START and END must be numbers, got '" + spec + "'", usage);
        }
    }

    /** {@code --control-preprocess}: null for none, else the Canny thresholds {low, high}. */
    static double[] preprocess(String p, String usage) {
        if (p.equals("none")) return null;
        String[] s = p.split(":");
        if (!s[0].equals("canny") || (s.length != 1 && s.length != 3))
            throw new UsageException("--control-preprocess takes none or canny[:LOW:HIGH], got '" + p + "'", usage);
        if (s.length == 1) return new double[]{Canny.DEFAULT_LOW, Canny.DEFAULT_HIGH};
        try {
            double lo = Double.parseDouble(s[1]), hi = Double.parseDouble(s[2]);
            if (!(lo >= 0 && hi >= lo && hi <= 2000))
                throw new UsageException("--control-preprocess canny thresholds must satisfy 0 <= LOW <= HIGH, got " + lo + ":" + hi, usage);
            return new double[]{lo, hi};
        } catch (NumberFormatException e) {
            throw new UsageException("--control-preprocess canny thresholds must be numbers, got '" + p + "'", usage);
        }
    }

    /** {@code --outpaint L,T,R,B} as four non-negative pixel counts. */
    static int[] padding(String v, String usage) {
        String[] s = v.split(",");
        if (s.length != 4) throw new UsageException("--outpaint takes LEFT,TOP,RIGHT,BOTTOM pixels, got '" + v + "'", usage);
        int[] r = new int[4];
        try {
            for (int i = 0; i < 4; i++) r[i] = Integer.parseInt(s[i].trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--outpaint takes four whole numbers of pixels, got '" + v + "'", usage);
        }
        for (int x : r) if (x < 0 || x > 2048) throw new UsageException("--outpaint pixels must be between 0 and 2048, got '" + v + "'", usage);
        if (r[0] + r[1] + r[2] + r[3] == 0) throw new UsageException("--outpaint needs at least one side above 0", usage);
        return r;
    }

    /** The --mask image as a grey mask of the init image's size (resized when it differs, said on notes unless null). */
    static Tensor readMask(Path file, Tensor init, PrintStream notes, String usage) throws IOException {
        Tensor m;
        try {
            m = Inpainting.maskFromImage(Images.read(file));
        } catch (IOException e) {
            throw new IOException("--mask: " + e.getMessage(), e);
        }
        int w = init.dim(3), h = init.dim(2);
        if (m.dim(3) != w || m.dim(2) != h) {
            if (notes != null) notes.printf("jdiffusion generate: note: mask %s is %dx%d: resized to the init image's %dx%d%n", file, m.dim(3), m.dim(2), w, h);
            m = Images.resize(m, w, h);
        }
        return m;
    }

    /** A --control image at the output size (resized when it differs, said on notes unless null), preprocessed. */
    static Tensor controlImage(Path file, double[] canny, StableDiffusion.Resolved size, PrintStream notes) throws IOException {
        Tensor img;
        try {
            img = Images.read(file);
        } catch (IOException e) {
            throw new IOException("--control: " + e.getMessage(), e);
        }
        if (img.dim(3) != size.width() || img.dim(2) != size.height()) {
            if (notes != null) notes.printf("jdiffusion generate: note: control image %s is %dx%d: resized to %dx%d%n", file, img.dim(3), img.dim(2), size.width(), size.height());
            img = Images.resize(img, size.width(), size.height());
        }
        return canny == null ? img : Canny.controlImage(img, canny[0], canny[1]);
    }
}
