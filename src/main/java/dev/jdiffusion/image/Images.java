package dev.jdiffusion.image;

import dev.jdiffusion.io.AtomicFiles;

import dev.jdiffusion.tensor.Tensor;
import org.w3c.dom.NodeList;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageOutputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Images in and out, as diffusers handles them. Reading (PNG, JPEG, anything ImageIO reads) gives a tensor
 * {@code [1, 3, H, W]} in [0, 1] ({@code byte / 255}); writing takes [0, 1] and quantises like diffusers'
 * {@code numpy_to_pil}: {@code round(clamp(x, 0, 1) * 255)} with round-half-even, 8-bit sRGB. PNG text chunks
 * (for example A1111's {@code parameters}) go in through ImageIO's PNG metadata. Writes are atomic: a temporary file
 * in the same folder, renamed over the target, so a failure never leaves a half-written image.
 */
public final class Images {
    private Images() {}

    /**
     * diffusers' post-processing of a VAE output: {@code (x / 2 + 0.5).clamp(0, 1)}, element-wise into a new tensor.
     *
     * @param x a tensor of any shape with values nominally in [-1, 1]; not modified
     * @return a new tensor of the same shape with values in [0, 1] (NaN becomes 0)
     */
    public static Tensor fromSigned(Tensor x) {
        float[] s = x.data(), d = new float[s.length];
        for (int i = 0; i < d.length; i++) d[i] = clamp01(s[i] / 2f + 0.5f);
        return new Tensor(d, x.shape());
    }

    /**
     * diffusers' pre-processing for the VAE encoder: {@code 2x - 1}, into a new tensor.
     *
     * @param image01 a tensor of any shape with values in [0, 1]; not modified
     * @return a new tensor of the same shape with values in [-1, 1] (not clamped)
     */
    public static Tensor toSigned(Tensor image01) {
        float[] s = image01.data(), d = new float[s.length];
        for (int i = 0; i < d.length; i++) d[i] = 2f * s[i] - 1f;
        return new Tensor(d, image01.shape());
    }

    private static float clamp01(float v) { return v > 1f ? 1f : (v >= 0f ? v : 0f); } // NaN -> 0

    /**
     * One value in [0, 1] to 8 bits: {@code round_half_even(clamp(v) * 255)}, the float32 product as numpy computes it.
     *
     * @param v a value; outside [0, 1] it is clamped, NaN counts as 0
     * @return the 8-bit level, 0 to 255
     */
    public static int toByte(float v) { return (int) Math.rint(clamp01(v) * 255f); }

    /**
     * Pixels [1, 3, H, W] or [3, H, W] in [0, 1] to interleaved RGB bytes (H x W x 3, row-major) as diffusers makes
     * its uint8 images.
     *
     * @param image01 the image, values in [0, 1] (others clamped, each quantised by {@link #toByte})
     * @return a new array of {@code 3 * H * W} bytes (unsigned levels stored in Java's signed bytes)
     * @throws IllegalArgumentException when the tensor is not [1, 3, H, W] or [3, H, W]
     */
    public static byte[] toUint8(Tensor image01) {
        int[] chw = chw(image01);
        int c = chw[0], h = chw[1], w = chw[2], hw = h * w;
        float[] d = image01.data();
        byte[] out = new byte[hw * 3];
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < hw; p++) out[p * 3 + ch] = (byte) toByte(d[ch * hw + p]);
        return out;
    }

    private static int[] chw(Tensor t) {
        int[] s = t.shape();
        if (s.length == 4 && s[0] == 1 && s[1] == 3) return new int[]{3, s[2], s[3]};
        if (s.length == 3 && s[0] == 3) return new int[]{3, s[1], s[2]};
        throw new IllegalArgumentException("expected an RGB image [1, 3, H, W] or [3, H, W], got " + Arrays.toString(s));
    }

    /**
     * An 8-bit image of a [0, 1] tensor, quantised as {@link #toUint8}.
     *
     * @param image01 the image, [1, 3, H, W] or [3, H, W], values in [0, 1]
     * @return a new W x H image of type {@link BufferedImage#TYPE_INT_RGB}
     * @throws IllegalArgumentException when the tensor is not [1, 3, H, W] or [3, H, W]
     */
    public static BufferedImage toBufferedImage(Tensor image01) {
        int[] chw = chw(image01);
        int h = chw[1], w = chw[2];
        byte[] px = toUint8(image01);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] rgb = new int[w * h];
        for (int p = 0; p < rgb.length; p++) rgb[p] = (px[3 * p] & 0xff) << 16 | (px[3 * p + 1] & 0xff) << 8 | (px[3 * p + 2] & 0xff);
        img.setRGB(0, 0, w, h, rgb, 0, w);
        return img;
    }

    /**
     * Reads an image file (PNG, JPEG, BMP, GIF...) as RGB [1, 3, H, W] in [0, 1]. Grey images are replicated to three
     * channels, palettes expanded, alpha dropped (as PIL's {@code convert("RGB")}), 16-bit samples reduced to 8 bits.
     *
     * @param file the image file
     * @return a new tensor [1, 3, H, W] with values {@code byte / 255}
     * @throws IOException with a clear message when the file is missing, unreadable, not an image, or damaged or
     *                     truncated (a file the reader only half decodes is refused, not padded)
     */
    public static Tensor read(Path file) throws IOException {
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "no such file");
        if (Files.isDirectory(file)) throw new IOException(file + ": is a folder, not an image");
        if (!Files.isReadable(file)) throw new AccessDeniedException(file.toString(), null, "not readable");
        BufferedImage img;
        java.util.List<String> warnings = new java.util.ArrayList<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> it = in == null ? java.util.Collections.emptyIterator() : ImageIO.getImageReaders(in);
            if (!it.hasNext()) throw new IOException(file + ": not an image in a format this Java can read (PNG, JPEG, BMP, GIF)");
            ImageReader reader = it.next();
            try {
                reader.setInput(in, true, true);
                // a truncated or damaged file is read "successfully" with a warning (grey rows): refuse it
                reader.addIIOReadWarningListener((src, w) -> warnings.add(w));
                img = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof IOException io && io.getMessage() != null && io.getMessage().startsWith(file + ": ")) throw io;
            throw new IOException(file + ": not a readable image (" + e.getMessage() + ")", e);
        }
        if (!warnings.isEmpty()) throw new IOException(file + ": damaged or truncated image (" + warnings.get(0) + ")");
        return fromBufferedImage(img);
    }

    /** The image formats {@link #write} writes, by file extension. */
    public enum Format {
        /** PNG, 8-bit RGB, with text chunks. */
        PNG,
        /** JPEG, quality 95, with the texts in a comment segment. */
        JPEG
    }

    /**
     * The format a file name asks for by its extension.
     *
     * @param file a path; only its file name is looked at (the file need not exist)
     * @return PNG for .png, JPEG for .jpg or .jpeg (any case), or null for any other name
     */
    public static Format formatOf(Path file) {
        String n = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith(".png")) return Format.PNG;
        if (n.endsWith(".jpg") || n.endsWith(".jpeg")) return Format.JPEG;
        return null;
    }

    /**
     * Writes a [0, 1] image in the format its extension names ({@link #formatOf}): PNG with the text chunks, or JPEG
     * (quality 95) with the texts' values in a comment segment. Atomic, as {@link #writePng}.
     *
     * @param file    the target; replaced when it exists
     * @param image01 the image, [1, 3, H, W] or [3, H, W], values in [0, 1]
     * @param text    text entries (key to value) to embed, e.g. A1111's {@code parameters}; null or empty for none
     * @throws IllegalArgumentException for any other extension
     * @throws IOException              when the folder is missing or not writable (nothing is left behind)
     */
    public static void write(Path file, Tensor image01, Map<String, String> text) throws IOException {
        Format f = formatOf(file);
        if (f == null) throw new IllegalArgumentException(file + ": unknown image type; use .png or .jpg");
        if (f == Format.PNG) {
            writePng(file, image01, text);
            return;
        }
        BufferedImage img = toBufferedImage(image01);
        AtomicFiles.write(file, tmp -> writeJpegTo(tmp, img, text == null ? Map.of() : text));
    }

    private static void writeJpegTo(Path tmp, BufferedImage img, Map<String, String> text) throws IOException {
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("jpeg");
        if (!it.hasNext()) throw new IOException("no JPEG writer in this Java runtime");
        ImageWriter writer = it.next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(tmp.toFile())) {
            if (out == null) throw new IOException(tmp + ": cannot open for writing");
            ImageWriteParam param = writer.getDefaultWriteParam();
            param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            param.setCompressionQuality(0.95f);
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
            if (!text.isEmpty()) {
                String f = meta.getNativeMetadataFormatName();
                IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(f);
                IIOMetadataNode seq = (IIOMetadataNode) root.getElementsByTagName("markerSequence").item(0);
                IIOMetadataNode com = new IIOMetadataNode("com");
                com.setUserObject(String.join("\n", text.values()).getBytes(StandardCharsets.UTF_8));
                seq.appendChild(com);
                meta.setFromTree(f, root);
            }
            writer.setOutput(out);
            writer.write(null, new IIOImage(img, null, meta), param);
        } finally {
            writer.dispose();
        }
    }

    /**
     * RGB [1, 3, H, W] in [0, 1] of a BufferedImage, converted as {@link #read} describes.
     *
     * @param img any image type ImageIO produces; not modified
     * @return a new tensor [1, 3, H, W] with values {@code byte / 255}
     */
    public static Tensor fromBufferedImage(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight(), hw = w * h;
        float[] d = new float[3 * hw];
        Raster r = img.getRaster();
        boolean gray = img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY && r.getNumBands() <= 2;
        if (gray) {
            // Read grey samples directly: getRGB would convert linear-grey to sRGB and change the values.
            int bits = img.getColorModel().getComponentSize(0);
            int max = (1 << bits) - 1;
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    int v8 = bits == 8 ? row[x] : (int) Math.round(row[x] * 255.0 / max);
                    float v = v8 / 255f;
                    d[y * w + x] = v;
                    d[hw + y * w + x] = v;
                    d[2 * hw + y * w + x] = v;
                }
            }
        } else {
            int[] rgb = img.getRGB(0, 0, w, h, null, 0, w);
            for (int p = 0; p < hw; p++) {
                d[p] = ((rgb[p] >> 16) & 0xff) / 255f;
                d[hw + p] = ((rgb[p] >> 8) & 0xff) / 255f;
                d[2 * hw + p] = (rgb[p] & 0xff) / 255f;
            }
        }
        return new Tensor(d, 1, 3, h, w);
    }

    /**
     * Writes a [0, 1] image ([1, 3, H, W] or [3, H, W]) as an 8-bit RGB PNG with the given text chunks (tEXt when the
     * value is Latin-1, iTXt otherwise), atomically: nothing is left behind when it fails.
     *
     * @param file    the target; replaced when it exists
     * @param image01 the image, values in [0, 1]
     * @param text    text chunks (keyword to value), written in the map's iteration order; null or empty for none
     * @throws IOException with a clear message when the folder is missing or not writable
     */
    public static void writePng(Path file, Tensor image01, Map<String, String> text) throws IOException {
        BufferedImage img = toBufferedImage(image01);
        AtomicFiles.write(file, tmp -> writePngTo(tmp, img, text == null ? Map.of() : text));
    }

    /**
     * The PNG file {@link #writePng} writes, as bytes (for sending over a network).
     *
     * @param image01 the image, [1, 3, H, W] or [3, H, W], values in [0, 1]
     * @param text    text chunks (keyword to value); null or empty for none
     * @return the complete PNG file
     * @throws IOException when ImageIO fails to encode (not expected for a valid tensor)
     */
    public static byte[] pngBytes(Tensor image01, Map<String, String> text) throws IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            writePngTo(out, "memory", toBufferedImage(image01), text == null ? Map.of() : text);
        }
        return bytes.toByteArray();
    }

    private static void writePngTo(Path tmp, BufferedImage img, Map<String, String> text) throws IOException {
        try (ImageOutputStream out = ImageIO.createImageOutputStream(tmp.toFile())) {
            writePngTo(out, tmp.toString(), img, text);
        }
    }

    private static void writePngTo(ImageOutputStream out, String where, BufferedImage img, Map<String, String> text) throws IOException {
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("png");
        if (!it.hasNext()) throw new IOException("no PNG writer in this Java runtime");
        ImageWriter writer = it.next();
        try {
            if (out == null) throw new IOException(where + ": cannot open for writing");
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), param);
            if (!text.isEmpty()) addText(meta, text);
            writer.setOutput(out);
            writer.write(null, new IIOImage(img, null, meta), param);
        } finally {
            writer.dispose();
        }
    }

    private static final String PNG_FORMAT = "javax_imageio_png_1.0";

    private static void addText(IIOMetadata meta, Map<String, String> text) throws IOException {
        IIOMetadataNode root = new IIOMetadataNode(PNG_FORMAT);
        IIOMetadataNode tEXt = new IIOMetadataNode("tEXt"), iTXt = new IIOMetadataNode("iTXt");
        for (Map.Entry<String, String> e : text.entrySet()) {
            String k = e.getKey(), v = e.getValue() == null ? "" : e.getValue();
            if (k.isEmpty() || k.length() > 79 || !latin1(k))
                throw new IllegalArgumentException("PNG text keyword must be 1-79 Latin-1 characters: '" + k + "'");
            if (latin1(v)) {
                IIOMetadataNode n = new IIOMetadataNode("tEXtEntry");
                n.setAttribute("keyword", k);
                n.setAttribute("value", v);
                tEXt.appendChild(n);
            } else {
                IIOMetadataNode n = new IIOMetadataNode("iTXtEntry");
                n.setAttribute("keyword", k);
                n.setAttribute("compressionFlag", "FALSE");
                n.setAttribute("compressionMethod", "0");
                n.setAttribute("languageTag", "");
                n.setAttribute("translatedKeyword", "");
                n.setAttribute("text", v);
                iTXt.appendChild(n);
            }
        }
        if (tEXt.getLength() > 0) root.appendChild(tEXt);
        if (iTXt.getLength() > 0) root.appendChild(iTXt);
        try {
            meta.mergeTree(PNG_FORMAT, root);
        } catch (IIOInvalidTreeException e) {
            throw new IOException("cannot add PNG text: " + e.getMessage(), e);
        }
    }

    private static boolean latin1(String s) {
        return StandardCharsets.ISO_8859_1.newEncoder().canEncode(s);
    }

    /**
     * The text chunks (tEXt, zTXt, iTXt) of a PNG file.
     *
     * @param file an image file
     * @return keyword to text: the tEXt chunks, then the zTXt, then the iTXt ones, each kind in file order (a later
     *         chunk with a keyword already seen replaces its value); empty for an image that is not a PNG or has no text
     * @throws IOException when the file cannot be opened or is not an image
     */
    public static Map<String, String> readPngText(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            return readPngText(in, file.toString());
        }
    }

    /**
     * The text chunks of an image held in memory, as {@link #readPngText(Path)}.
     *
     * @param image the bytes of an image file
     * @return keyword to text, ordered as {@link #readPngText(Path)} gives them; empty for an image without them, or
     *         not a PNG

     * @throws IOException when the bytes are not an image
     */
    public static Map<String, String> readPngText(byte[] image) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(image))) {
            return readPngText(in, "image");
        }
    }

    private static Map<String, String> readPngText(ImageInputStream in, String where) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        if (in == null) throw new IOException(where + ": cannot open");
        Iterator<ImageReader> it = ImageIO.getImageReaders(in);
        if (!it.hasNext()) throw new IOException(where + ": not an image");
        ImageReader reader = it.next();
        try {
            reader.setInput(in);
            IIOMetadata meta = reader.getImageMetadata(0);
            if (meta == null || !Arrays.asList(meta.getMetadataFormatNames()).contains(PNG_FORMAT)) return out;
            IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(PNG_FORMAT);
            collect(root.getElementsByTagName("tEXtEntry"), "keyword", "value", out);
            collect(root.getElementsByTagName("zTXtEntry"), "keyword", "text", out);
            collect(root.getElementsByTagName("iTXtEntry"), "keyword", "text", out);
        } finally {
            reader.dispose();
        }
        return out;
    }

    private static void collect(NodeList nodes, String key, String value, Map<String, String> out) {
        for (int i = 0; i < nodes.getLength(); i++) {
            IIOMetadataNode n = (IIOMetadataNode) nodes.item(i);
            out.put(n.getAttribute(key), n.getAttribute(value));
        }
    }

    /**
     * The A1111 {@code parameters} text: the prompt, a {@code Negative prompt:} line when there is one, then the
     * settings as {@code Key: value, Key: value} in the given order, e.g.
     * {@code "a cat\nNegative prompt: blurry\nSteps: 4, Sampler: LCM, CFG scale: 1, Seed: 1, Size: 512x512, Model: x"}.
     *
     * @param prompt         the prompt (null: empty)
     * @param negativePrompt the negative prompt; null or empty leaves its line out
     * @param settings       setting name to value ({@link String#valueOf} of each), in the order to print; null or
     *                       empty leaves the settings line out
     * @return the text, lines separated by {@code \n}
     */
    public static String a1111Parameters(String prompt, String negativePrompt, Map<String, ?> settings) {
        StringBuilder b = new StringBuilder(prompt == null ? "" : prompt);
        if (negativePrompt != null && !negativePrompt.isEmpty()) b.append("\nNegative prompt: ").append(negativePrompt);
        if (settings != null && !settings.isEmpty()) {
            b.append('\n');
            boolean first = true;
            for (Map.Entry<String, ?> e : settings.entrySet()) {
                if (!first) b.append(", ");
                first = false;
                b.append(e.getKey()).append(": ").append(e.getValue());
            }
        }
        return b.toString();
    }

    /**
     * Resizes [B, C, H, W] to width x height with a Lanczos-3 filter widened when shrinking (as PIL's
     * {@code Image.resize(..., LANCZOS)}, which diffusers' image processors use), separably, in float; values are
     * clamped to [0, 1].
     *
     * @param img    the images [B, C, H, W]; not modified
     * @param width  target width in pixels, at least 1
     * @param height target height in pixels, at least 1
     * @return a new tensor [B, C, height, width], or {@code img} itself when it already has that size
     * @throws IllegalArgumentException when img is not rank 4 or a target side is below 1
     */

    public static Tensor resize(Tensor img, int width, int height) {
        if (img.rank() != 4 || width < 1 || height < 1) throw new IllegalArgumentException("cannot resize " + img + " to " + width + "x" + height);
        int b = img.dim(0), c = img.dim(1), h = img.dim(2), w = img.dim(3);
        if (h == height && w == width) return img;
        float[] src = img.data(), mid = new float[b * c * h * width], out = new float[b * c * height * width];
        float[][] kx = new float[width][];
        int[] x0 = lanczosWeights(w, width, kx);
        float[][] ky = new float[height][];
        int[] y0 = lanczosWeights(h, height, ky);
        for (int p = 0; p < b * c; p++) {
            for (int y = 0; y < h; y++)
                for (int x = 0; x < width; x++) {
                    float a = 0;
                    float[] k = kx[x];
                    for (int i = 0; i < k.length; i++) a += k[i] * src[(p * h + y) * w + x0[x] + i];
                    mid[(p * h + y) * width + x] = a;
                }
            for (int y = 0; y < height; y++) {
                float[] k = ky[y];
                for (int x = 0; x < width; x++) {
                    float a = 0;
                    for (int i = 0; i < k.length; i++) a += k[i] * mid[(p * h + y0[y] + i) * width + x];
                    out[(p * height + y) * width + x] = clamp01(a);
                }
            }
        }
        return new Tensor(out, b, c, height, width);
    }

    /** PIL's precompute_coeffs for Lanczos (support 3): per output index, the first input index and normalised weights. */
    private static int[] lanczosWeights(int in, int out, float[][] weights) {
        double scale = (double) in / out, fs = Math.max(scale, 1.0), support = 3.0 * fs;
        int[] first = new int[out];
        for (int o = 0; o < out; o++) {
            double center = (o + 0.5) * scale;
            int lo = Math.max((int) (center - support + 0.5), 0), hi = Math.min((int) (center + support + 0.5), in);
            double[] k = new double[hi - lo];
            double sum = 0;
            for (int i = lo; i < hi; i++) sum += k[i - lo] = lanczos((i - center + 0.5) / fs);
            float[] f = new float[k.length];
            for (int i = 0; i < k.length; i++) f[i] = (float) (sum != 0 ? k[i] / sum : 0);
            first[o] = lo;
            weights[o] = f;
        }
        return first;
    }

    private static double lanczos(double x) {
        if (x == 0) return 1;
        if (x <= -3 || x >= 3) return 0;
        double px = Math.PI * x;
        return 3 * Math.sin(px) * Math.sin(px / 3) / (px * px);
    }
}
