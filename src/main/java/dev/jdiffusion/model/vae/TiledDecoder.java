package dev.jdiffusion.model.vae;

import dev.jdiffusion.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Decodes a large latent in overlapping square tiles, as diffusers' {@code AutoencoderKL.tiled_decode} does:
 * tiles of {@code tile} latent pixels start every {@code tile * (1 - overlap)}; each decoded tile is blended
 * linearly with its upper and left neighbours over {@code tile * f * overlap} image pixels, then cropped to
 * {@code tile * f * (1 - overlap)}. Only the previous row of decoded tiles is kept, so memory is bounded by the
 * tile size and the output image, whatever the latent size.
 */
final class TiledDecoder {
    private TiledDecoder() {}

    /**
     * @param z        latents [n, c, h, w]
     * @param tile     tile side in latent pixels
     * @param overlap  overlap factor in (0, 0.5]
     * @param f        image pixels per latent pixel
     * @param decoder  decodes one latent tile to its image tile
     */
    static Tensor decode(Tensor z, int tile, float overlap, int f, int outChannels, UnaryOperator<Tensor> decoder) {
        int n = z.dim(0), c = z.dim(1), h = z.dim(2), w = z.dim(3);
        int stride = (int) (tile * (1 - overlap));
        int tileSample = tile * f;
        int blend = (int) (tileSample * overlap);
        int rowLimit = tileSample - blend;
        if (stride < 1 || stride * f != rowLimit)
            throw new IllegalArgumentException("tile " + tile + " with overlap " + overlap + " does not tile evenly (choose tile * overlap a whole number)");
        Tensor out = Tensor.zeros(n, outChannels, h * f, w * f);
        List<Tensor> prev = null;
        int outY = 0;
        for (int i = 0; i < h; i += stride) {
            List<Tensor> row = new ArrayList<>();
            for (int j = 0; j < w; j += stride) row.add(decoder.apply(crop(z, i, j, Math.min(tile, h - i), Math.min(tile, w - j))));
            int outX = 0, rowHeight = 0;
            for (int j = 0; j < row.size(); j++) {
                Tensor t = row.get(j);
                if (prev != null) blendVertical(prev.get(j), t, blend);
                if (j > 0) blendHorizontal(row.get(j - 1), t, blend);
                int ch = Math.min(t.dim(2), rowLimit), cw = Math.min(t.dim(3), rowLimit);
                paste(t, ch, cw, out, outY, outX);
                outX += cw;
                rowHeight = ch;
            }
            outY += rowHeight;
            prev = row;
        }
        return out;
    }

    private static Tensor crop(Tensor z, int y0, int x0, int th, int tw) {
        int n = z.dim(0), c = z.dim(1), h = z.dim(2), w = z.dim(3);
        float[] src = z.data(), dst = new float[n * c * th * tw];
        for (int p = 0; p < n * c; p++)
            for (int y = 0; y < th; y++) System.arraycopy(src, (p * h + y0 + y) * w + x0, dst, (p * th + y) * tw, tw);
        return new Tensor(dst, n, c, th, tw);
    }

    /** b's first rows fade in from a's last rows (b modified in place). */
    private static void blendVertical(Tensor a, Tensor b, int extent) {
        int e = Math.min(Math.min(a.dim(2), b.dim(2)), extent);
        int planes = b.dim(0) * b.dim(1), ah = a.dim(2), bh = b.dim(2), w = b.dim(3);
        float[] ad = a.data(), bd = b.data();
        for (int y = 0; y < e; y++) {
            float t = (float) ((double) y / e), s = (float) (1 - (double) y / e);
            for (int p = 0; p < planes; p++) {
                int ao = (p * ah + ah - e + y) * w, bo = (p * bh + y) * w;
                for (int x = 0; x < w; x++) bd[bo + x] = ad[ao + x] * s + bd[bo + x] * t;
            }
        }
    }

    /** b's first columns fade in from a's last columns (b modified in place). */
    private static void blendHorizontal(Tensor a, Tensor b, int extent) {
        int e = Math.min(Math.min(a.dim(3), b.dim(3)), extent);
        int planes = b.dim(0) * b.dim(1), h = b.dim(2), aw = a.dim(3), bw = b.dim(3);
        float[] ad = a.data(), bd = b.data();
        for (int x = 0; x < e; x++) {
            float t = (float) ((double) x / e), s = (float) (1 - (double) x / e);
            for (int p = 0; p < planes; p++)
                for (int y = 0; y < h; y++) {
                    int ao = (p * h + y) * aw + aw - e + x, bo = (p * h + y) * bw + x;
                    bd[bo] = ad[ao] * s + bd[bo] * t;
                }
        }
    }

    private static void paste(Tensor t, int ch, int cw, Tensor out, int y0, int x0) {
        int planes = t.dim(0) * t.dim(1), th = t.dim(2), tw = t.dim(3), oh = out.dim(2), ow = out.dim(3);
        float[] src = t.data(), dst = out.data();
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < ch; y++) System.arraycopy(src, (p * th + y) * tw, dst, (p * oh + y0 + y) * ow + x0, cw);
    }
}
